"""Running a new model version's registration checks: in a child process with memory, CPU-time
and file-size limits (explanations/sandbox.py), never in this process, then recording the
verdict (decisions.registration.model_version_checked).

A crash of native code, a timeout or a blown limit in the child is a named rejection; this
process only reads the verdict file the child wrote.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings

from audit.services import Actor
from decisions.models import ModelVersion
from decisions.registration import model_version_checked

logger = logging.getLogger(__name__)


def model_version_check(*, version_id: int, actor: Actor) -> ModelVersion:
    """Run the checks of a version whose checks are pending and record their verdict; a version
    already checked is returned as it is (a redelivered task changes nothing)."""
    version = ModelVersion.objects.get(pk=version_id)
    if version.checks.get("state") != "pending":
        return version
    verdict = sandboxed_checks(version)
    return model_version_checked(
        version=version, reasons=verdict.get("reasons", []), report=verdict.get("report", {}), actor=actor
    )


def sandboxed_checks(version: ModelVersion) -> dict:
    """The verdict of `python -m explanations.sandbox` on the version's files."""
    limits = {
        "memory_bytes": settings.MODEL_CHECK_MEMORY_BYTES,
        "cpu_seconds": settings.MODEL_CHECK_CPU_SECONDS,
        "file_bytes": settings.MODEL_CHECK_FILE_BYTES,
    }
    request = {
        "framework": version.framework,
        "explainer": version.explainer,
        "schema": version.feature_schema,
        "output": version.output,
        "input_shape": (version.training or {}).get("input_shape"),
        "limits": limits,
    }
    with tempfile.TemporaryDirectory(prefix="rationale-check-") as directory:
        folder = Path(directory)
        (folder / "request.json").write_text(json.dumps(request))
        (folder / "artifact").write_bytes(bytes(version.artifact))
        (folder / "background.npy").write_bytes(bytes(version.background))
        try:
            completed = subprocess.run(  # noqa: S603 - our own module, no shell
                [sys.executable, "-m", "explanations.sandbox", directory],
                cwd=settings.BASE_DIR,
                env=_child_environment(),
                capture_output=True,
                timeout=settings.MODEL_CHECK_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _failed(f"resources: the checks took longer than {settings.MODEL_CHECK_TIMEOUT_SECONDS} s")
        result = folder / "result.json"
        if completed.returncode == 0 and result.exists():
            return json.loads(result.read_text())
    logger.warning(
        "registration checks of %s ended with code %s: %s",
        version,
        completed.returncode,
        completed.stderr.decode(errors="replace")[-2000:],
    )
    if completed.returncode < 0:
        name = signal.Signals(-completed.returncode).name
        if name == "SIGXCPU":
            return _failed(
                f"resources: the checks used more than {settings.MODEL_CHECK_CPU_SECONDS} s of CPU"
            )
        return _failed(f"crash: loading or running the model crashed the checking process ({name})")
    return _failed(f"crash: the checking process ended without a verdict (exit code {completed.returncode})")


def _failed(reason: str) -> dict:
    return {"passed": False, "reasons": [reason], "report": {}}


def _child_environment() -> dict[str, str]:
    """What the child needs to import our code and its libraries, and nothing else: no secret
    or database URL of this process reaches the code that reads an untrusted artifact."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "CUDA_VISIBLE_DEVICES")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["PYTHONPATH"] = str(settings.BASE_DIR)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["OMP_NUM_THREADS"] = "1"
    return env
