"""config.wsgi loads what serving needs before the first request and freezes it out of the
garbage collector's generations, so that full collections in web workers stay short."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, json, sys
import config.wsgi
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "tracked": len(gc.get_objects()),
    "modules": sorted(m for m in ("xgboost", "decisions.api", "rest_framework.views") if m in sys.modules),
}))
"""


def test_loading_the_wsgi_application_imports_the_serving_path_and_freezes_it():
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["modules"] == ["decisions.api", "rest_framework.views", "xgboost"]
    # Nearly everything alive after start-up is frozen: a full collection has little to walk.
    assert probe["frozen"] > 150_000
    assert probe["tracked"] < probe["frozen"] / 20
