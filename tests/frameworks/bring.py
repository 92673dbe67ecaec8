"""What the framework tests share: a model trained in the test on bundled scikit-learn data,
brought to Rationale as a new user would (a schema for its columns, output semantics, a
background), registered with its real sandboxed checks, and decisions posted through the API."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import numpy as np

from demo.trained import TrainedModel
from explanations.models import Explanation
from tests.conftest import register
from tests.services import wait_until

TEXTS = {
    "controller": "Example Bank plc",
    "purpose": "Assessing an application",
    "significance": "Decides the application",
    "consequences": "A refused application can be reviewed by a person",
    "legal_basis": "Art. 22(2)(a) GDPR",
    "contact": "dpo@example.test",
}


def numeric_schema(names: list[str], X: np.ndarray) -> dict:
    """Every column numeric, bounded by the data (widened a little so held-out rows fit)."""
    low, high = X.min(axis=0), X.max(axis=0)
    span = np.maximum(high - low, 1e-9)
    return {
        "features": [
            {
                "name": name,
                "label": name.replace("_", " ").capitalize(),
                "type": "numeric",
                "minimum": float(lo - span_ / 2),
                "maximum": float(hi + span_ / 2),
                "mutable": True,
            }
            for name, lo, hi, span_ in zip(names, low, high, span, strict=True)
        ]
    }


def identifiers(names) -> list[str]:
    return ["".join(c if c.isalnum() else "_" for c in str(n)).strip("_").lower() for n in names]


def bring(
    name: str,
    framework: str,
    artifact: bytes,
    *,
    names: list[str],
    X: np.ndarray,
    output: dict,
    background_rows: int = 50,
    explainer: str = "auto",
    version: str = "1",
    input_shape: list[int] | None = None,
    schema: dict | None = None,
):
    """Register the model with its real checks; the checked ModelVersion."""
    trained = TrainedModel(
        name=name,
        version=version,
        framework=framework,
        artifact=artifact,
        schema=schema or numeric_schema(names, X),
        output=output,
        background=np.asarray(X[:background_rows], dtype=np.float64),
        training={"input_shape": input_shape} if input_shape else {},
        subject_texts=TEXTS,
        explainer=explainer,
    )
    return register(trained)


def rows_of(names: list[str], X: np.ndarray) -> list[dict]:
    return [dict(zip(names, map(float, row), strict=True)) for row in X]


def post_and_wait(client, model: str, rows: list[dict], *, timeout: float = 90) -> list[Explanation]:
    """Post the rows as one bulk request; their explanations once the worker finished them."""
    payload = {
        "decisions": [{"model": model, "subject_ref": f"p-{i}", "features": r} for i, r in enumerate(rows)]
    }
    response = client.post(
        "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    created = response.json()["decisions"]
    ids = [d["id"] for d in created]
    paths = {d["id"]: urlsplit(d["subject_access_url"]).path for d in created}
    finished = Explanation.objects.filter(decision_id__in=ids, status__in=["done", "failed"])
    wait_until(lambda: finished.count() == len(ids), timeout=timeout, what=f"{len(ids)} explanations")
    by_decision = {str(e.decision_id): e for e in Explanation.objects.filter(decision_id__in=ids)}
    for decision_id, explanation in by_decision.items():
        explanation.subject_path = paths[decision_id]  # the person's page
    return [by_decision[i] for i in ids]
