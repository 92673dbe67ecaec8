"""The embedded default that `make run` uses (SQLite, the filesystem broker) takes the portable
paths the PostgreSQL suite never runs: recording, claiming and storing explanations, audit
events, the labelled view of contributions, exports and chain verification."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json

import django

django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)

from django.db import connection

from audit.chain import verify_chain
from oversight.exports import export_create, export_path, export_run
from audit.services import Actor
from demo import credit
from decisions.recording import DecisionInput
from explanations.recording import decision_record_many
from decisions.registration import model_register
from decisions.accounts import user_create
from explanations.models import Explanation
from explanations.drain import explanation_drain
from explanations.vetting import model_version_check

trained = credit.train()
version = model_register(
    name=trained.name, version=trained.version, framework=trained.framework,
    artifact=trained.artifact, schema=trained.schema, output=trained.output,
    background=trained.background, training=trained.training, texts=trained.subject_texts,
    explainer=trained.explainer, actor=Actor.system("check"), queue_checks=False,
)
version = model_version_check(version_id=version.pk, actor=Actor.system("check"))
rows = trained.sample_rows[:40]
decision_record_many(
    items=[DecisionInput(model=trained.name, features=r, subject_ref=f"s-{i}") for i, r in enumerate(rows)],
    actor=Actor.system("check"),
)
drained = explanation_drain(model_version_id=version.pk)
first = Explanation.objects.select_related("decision__model_version").order_by("id").first()
auditor = user_create(username="audrey", role="auditor", password="x" * 16, actor=Actor.system("check"))
export = export_create(user=auditor, kind="decisions", fmt="jsonl", mode="file", filters={})
export = export_run(export_id=export.pk)
lines = export_path(export).read_text().splitlines()
statuses = sorted(set(Explanation.objects.values_list("status", flat=True)))

# The API on SQLite, with the Idempotency-Key that the README's example sends.
from django.test import Client

from decisions.accounts import api_key_create

_, raw_key = api_key_create(name="check", actor=Actor.system("check"))
api = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
keyed_body = json.dumps({"model": trained.name, "subject_ref": "keyed", "features": rows[0]})
keyed = [
    api.post("/api/v1/decisions/", keyed_body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    for _ in range(2)
]
print(json.dumps({
    "keyed_statuses": [r.status_code for r in keyed],
    "keyed_replayed": keyed[1].get("Idempotent-Replayed"),
    "keyed_same_id": keyed[0].json()["id"] == keyed[1].json()["id"],
    "vendor": connection.vendor,
    "drained": drained,
    "statuses": statuses,
    "stored": sorted(first.contributions),
    "labelled": [c["feature"] for c in first.labelled_contributions],
    "label": first.labelled_contributions[0]["label"],
    "additivity": first.base_value + sum(first.contributions.values()) - first.predicted_value,
    "export_rows": export.manifest["rows"],
    "export_counts": export.manifest["counts"],
    "exported_contributions": json.loads(lines[0])["explanation"]["contributions"],
    "export_first": json.loads(lines[0])["id"],
    "chain_ok": verify_chain().ok,
    "names": [f["name"] for f in trained.schema["features"] if not f.get("monitored")],
}))
"""


def test_the_embedded_default_records_explains_exports_and_verifies(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "EXPLAIN_PUBLISH_FLAG_URL")
    }
    env.update(RATIONALE_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["vendor"] == "sqlite"
    assert out["drained"]["done"] == 40 and out["statuses"] == ["done"]
    assert out["stored"] == sorted(out["names"]) and out["labelled"] == out["names"]
    assert out["label"] and abs(out["additivity"]) < 1e-4
    assert out["export_rows"] == 40 and out["export_counts"] == {"explanations": 40}
    assert sorted(out["exported_contributions"]) == sorted(out["names"])
    assert out["chain_ok"] is True
    assert out["keyed_statuses"] == [201, 201] and out["keyed_replayed"] == "true" and out["keyed_same_id"]
