"""A small lending model of the tests' own, independent of the demo: two inputs the model uses and
three protected attributes it only records, for the fairness views (as no EU lender would take
sex, age or nationality as inputs). Its decisions are hand-built ledger rows, so every figure on
the auditor's pages can be computed by hand."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from decisions.commitments import features_commitment, features_key
from decisions.models import Decision, DecisionModel, ModelVersion

SCHEMA = {
    "features": [
        {
            "name": "income",
            "label": "Monthly income",
            "type": "numeric",
            "minimum": 0,
            "maximum": 20000,
            "unit": "EUR",
        },
        {
            "name": "term_months",
            "label": "Loan term",
            "type": "numeric",
            "minimum": 6,
            "maximum": 72,
            "unit": "months",
        },
        {
            "name": "personal_status_sex",
            "label": "Sex and marital status",
            "type": "categorical",
            "categories": [
                {"value": "male_divorced", "label": "Man, divorced or separated"},
                {"value": "female_not_single", "label": "Woman, divorced, separated or married"},
                {"value": "male_single", "label": "Man, single"},
                {"value": "male_married", "label": "Man, married or widowed"},
            ],
            "protected": True,
            "monitored": True,
        },
        {
            "name": "age_years",
            "label": "Age",
            "type": "numeric",
            "minimum": 18,
            "maximum": 90,
            "unit": "years",
            "integer": True,
            "protected": True,
            "monitored": True,
        },
        {
            "name": "foreign_worker",
            "label": "Foreign worker",
            "type": "categorical",
            "categories": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}],
            "protected": True,
            "monitored": True,
        },
    ]
}
BINARY = {
    "type": "binary",
    "class_labels": ["refused", "approved"],
    "favourable_label": "approved",
    "threshold": 0.5,
}
# A form reader: ten classes, none better than another.
MULTICLASS = {"type": "multiclass", "class_labels": [str(d) for d in range(10)], "favourable_label": None}


def lending_version(
    name: str = "lending", version: str = "1.0", *, output: dict | None = None, monitored: bool = True
) -> ModelVersion:
    """A registered, active version of an external scorer (no artifact to check or load). With
    `monitored` False, the model takes the protected attributes as inputs (as the old demo did)."""
    model, _ = DecisionModel.objects.get_or_create(name=name)
    empty = hashlib.sha256(b"").hexdigest()
    registered = ModelVersion.objects.create(
        model=model,
        version=version,
        framework=ModelVersion.Framework.EXTERNAL,
        explainer=ModelVersion.ExplainerMethod.SUPPLIED,
        status=ModelVersion.Status.ACTIVE,
        checks={"state": "passed", "reasons": []},
        artifact=b"",
        artifact_sha256=empty,
        feature_schema=SCHEMA
        if monitored
        else {"features": [{**f, "monitored": False} for f in SCHEMA["features"]]},
        output=output or BINARY,
        background=b"",
        background_sha256=empty,
    )
    if model.default_version_id is None:
        DecisionModel.objects.filter(pk=model.pk).update(default_version=registered)
    return registered


def decide(
    version: ModelVersion,
    features: dict,
    *,
    outcome: str | None = None,
    favourable: bool | None = None,
    score: float = 0.5,
    decided_at: datetime | None = None,
) -> Decision:
    """The model's own decision, as a ledger row with chosen values."""
    now = timezone.now()
    if outcome is None:
        outcome = "approved" if favourable else "refused"
    return Decision.objects.create(
        model_version=version,
        subject_ref=f"applicant-{uuid.uuid4().hex[:8]}",
        features=features,
        features_key=(key := features_key()),
        features_commitment=features_commitment(key=key, features=features),
        score=score,
        outcome=outcome,
        favourable=favourable,
        decided_at=decided_at or now,
        access_token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        access_expires_at=now + timedelta(days=365),
    )


def review_decides(reviewed: Decision, outcome: str, *, favourable: bool | None = None) -> Decision:
    """A person's decision on review, replacing `reviewed` (the ledger row review writes)."""
    now = timezone.now()
    return Decision.objects.create(
        model_version=reviewed.model_version,
        kind=Decision.Kind.HUMAN,
        supersedes=reviewed,
        subject_ref=reviewed.subject_ref,
        features=reviewed.features,
        features_key=(key := features_key()),
        features_commitment=features_commitment(key=key, features=reviewed.features),
        score=reviewed.score,
        outcome=outcome,
        favourable=favourable,
        decided_at=now,
        access_token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        access_expires_at=reviewed.access_expires_at,
    )
