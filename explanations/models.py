from functools import cached_property

from django.db import models
from django.db.models import Q

from decisions.registry import schema_of

from .contributions import contributions_labelled


class Explanation(models.Model):
    """One SHAP computation for a decision. The current one is `is_current`; earlier are history."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    decision = models.ForeignKey("decisions.Decision", on_delete=models.CASCADE, related_name="explanations")
    model_version = models.ForeignKey("decisions.ModelVersion", on_delete=models.PROTECT, related_name="+")
    is_current = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    method = models.CharField(max_length=16, blank=True)
    params = models.JSONField(default=dict, blank=True)
    output_space = models.CharField(max_length=16, blank=True)
    explained_class = models.CharField(max_length=64, blank=True)
    base_value = models.FloatField(null=True, blank=True)
    predicted_value = models.FloatField(null=True, blank=True)
    # {"feature name": contribution} per original feature; labels come from the schema when read.
    contributions = models.JSONField(default=dict, blank=True)
    raw_values = models.JSONField(default=list, blank=True)
    additivity_error = models.FloatField(null=True, blank=True)
    counterfactuals = models.JSONField(null=True, blank=True)
    versions = models.JSONField(default=dict, blank=True)
    model_sha256 = models.CharField(max_length=64, blank=True)
    background_sha256 = models.CharField(max_length=64, blank=True)
    device = models.CharField(max_length=128, blank=True)
    compute_ms = models.FloatField(null=True, blank=True)
    batch_size = models.PositiveIntegerField(null=True, blank=True)
    worker = models.CharField(max_length=128, blank=True)
    queued_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-queued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["decision"], condition=Q(is_current=True), name="one_current_explanation"
            ),
        ]
        indexes = [
            models.Index(
                fields=["model_version", "queued_at"],
                condition=Q(status="pending"),
                name="explanation_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"explanation {self.pk} of {self.decision_id} ({self.status})"

    @cached_property
    def labelled_contributions(self) -> list[dict]:
        """Per feature, in schema order: label, the person's value, contribution, flags."""
        decision = self.decision
        return contributions_labelled(
            schema_of(decision.model_version), decision.features or {}, self.contributions or {}
        )


class ShadowDecision(models.Model):
    """What a candidate version in shadow would have decided, and why, for a live decision of
    its model's default. Never a decision: nothing reads these rows but the agreement report."""

    decision = models.ForeignKey("decisions.Decision", on_delete=models.CASCADE, related_name="shadow_runs")
    model_version = models.ForeignKey("decisions.ModelVersion", on_delete=models.PROTECT, related_name="+")
    score = models.FloatField()
    outcome = models.CharField(max_length=64)
    favourable = models.BooleanField(null=True)
    method = models.CharField(max_length=16)
    base_value = models.FloatField()
    # {"feature name": contribution} per original feature of the shadow version's schema.
    contributions = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["decision", "model_version"], name="one_shadow_run_per_version"),
        ]
        indexes = [models.Index(fields=["model_version", "created_at"])]

    def __str__(self) -> str:
        return f"shadow {self.model_version_id} of {self.decision_id}: {self.outcome}"
