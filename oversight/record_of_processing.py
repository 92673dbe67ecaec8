"""The record of processing activities (GDPR Art. 30(1)), one entry per model version, built
from the registry: what the controller must be able to show a supervisory authority."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

from decisions.models import ApiKey
from decisions.schema import FeatureSchema

from .export_filters import ExportFilters, versions_selected


def record_of_processing(filters: ExportFilters) -> Iterator[dict]:
    """Art. 30(1) GDPR, one entry per model version, built from the registry."""
    recipients_systems = sorted(ApiKey.objects.filter(revoked_at__isnull=True).values_list("name", flat=True))
    for version in versions_selected(filters):
        schema = FeatureSchema.from_dict(version.feature_schema)
        yield {
            "processing": f"{version.model.name}@{version.version}",
            "controller": version.controller,
            "contact": version.contact,
            "purpose": version.purpose,
            "legal_basis": version.legal_basis,
            "significance_and_consequences": " ".join(
                t for t in (version.significance, version.consequences) if t
            ),
            "data_subjects": "people about whom the controller takes automated decisions with this model",
            "data_categories": [
                {"feature": f.name, "label": f.label, "type": f.type, "protected": f.protected}
                for f in schema.features
            ],
            "protected_characteristics": [f.label for f in schema.features if f.protected],
            "recipients": {
                "integrating_systems": recipients_systems,
                "internal_roles": ["caseworker (Art. 22(3) reviews)", "auditor / data protection officer"],
            },
            "third_country_transfers": "none recorded by the platform",
            "retention_days": version.retention_days,
            "retention": (
                f"decision inputs and explanation values erased {version.retention_days} days after the "
                "decision; the decision skeleton and the hash-chained audit log are kept"
            ),
            "security_measures": [
                "append-only, hash-chained audit log with Ed25519-signed checkpoints",
                "API keys and subject access tokens stored as sha256 hashes",
                "role-based access (caseworker, auditor), auditors read-only",
            ],
            "automated_decision_making": {
                "framework": version.framework,
                "explainer": version.explainer,
                "artifact_sha256": version.artifact_sha256,
                "status": version.status,
                "registered_at": version.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            },
        }
