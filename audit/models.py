from django.db import models


class Action(models.TextChoices):
    MODEL_REGISTERED = "model.registered", "Model version registered"
    MODEL_STATUS_CHANGED = "model.status_changed", "Model version status changed"
    MODEL_CHECKED = "model.checked", "Model version's registration checks ran"
    MODEL_PROMOTED = "model.promoted", "Model version promoted to the model's default"
    MODEL_SHADOW_CHANGED = "model.shadow_changed", "Model version's shadow run started or stopped"
    MODEL_REFERRAL_CHANGED = "model.referral_changed", "Model version's referral rules changed"
    DECISION_RECORDED = "decision.recorded", "Decision recorded"
    DECISION_VIEWED = "decision.viewed", "Decision viewed by its subject"
    DECISION_REFERRED = "decision.referred", "Decision referred to a person after it was recorded"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    USER_CREATED = "user.created", "User created"
    USER_ROLES_CHANGED = "user.roles_changed", "User's roles or staff rights changed"
    USER_LOGIN = "user.login", "User logged in"
    USER_LOGIN_FAILED = "user.login_failed", "User login failed"
    USER_LOGOUT = "user.logout", "User logged out"
    USER_SECOND_FACTOR_FAILED = "user.2fa_failed", "User's second factor failed"
    USER_SECOND_FACTOR_ENROLLED = "user.2fa_enrolled", "User enrolled a second factor"
    USER_SECOND_FACTOR_REMOVED = "user.2fa_removed", "User's second factor removed"
    EXPLANATION_COMPUTED = "explanation.computed", "Explanation computed"
    EXPLANATION_FAILED = "explanation.failed", "Explanation failed"
    EXPLANATION_RECOMPUTED = "explanation.recomputed", "Explanation recomputed"
    CHECKPOINT_SIGNED = "audit.checkpoint", "Audit checkpoint signed"
    # Auditor workspace
    EXPORT_REQUESTED = "export.requested", "Export requested"
    EXPORT_COMPLETED = "export.completed", "Export completed and its manifest signed"
    EXPORT_FAILED = "export.failed", "Export failed"
    EXPORT_DOWNLOADED = "export.downloaded", "Export downloaded"
    PERSONAL_DATA_ERASED = "retention.erased", "Personal data erased after retention"
    SUBJECT_ERASURE = "subject.erasure", "Subject's personal data erased or restricted on request"
    PERSONAL_DATA_READ = "personal_data.read", "Personal data read (API, pages, admin)"
    # Article 22 workflow
    SUBJECT_ACCESS_REVOKED = "decision.access_revoked", "Subject access link revoked"
    SUBJECT_ACCESS_REISSUED = "decision.access_reissued", "Subject access link re-issued"
    DECISION_CASE_VIEWED = "decision.case_viewed", "Decision viewed by a caseworker"
    REVIEW_REQUESTED = "review.requested", "Review requested by the subject"
    REVIEW_OPENED = "review.opened", "Review opened by staff or for a referred decision"
    REVIEW_DEADLINE_NEAR = "review.deadline_near", "Review's deadline is near"
    REVIEW_DEADLINE_MISSED = "review.deadline_missed", "Review's deadline passed while it was open"
    REVIEW_TAKEN = "review.taken", "Review taken by a caseworker"
    REVIEW_INFO_REQUESTED = "review.info_requested", "Subject asked for information"
    REVIEW_SUBJECT_REPLIED = "review.subject_replied", "Subject supplied information"
    REVIEW_EXTENDED = "review.extended", "Review deadline extended"
    REVIEW_UPHELD = "review.upheld", "Decision upheld on review"
    REVIEW_OVERTURNED = "review.overturned", "Decision overturned on review"
    REVIEW_RECTIFIED = "review.rectified", "Data corrected on request and decided again"
    REVIEW_RECTIFICATION_REJECTED = "review.rectification_rejected", "Proposed correction refused"
    REVIEW_PERSONAL_DATA_ERASED = "review.erased", "Review personal data erased"
    # Webhooks
    WEBHOOK_ENDPOINT_CREATED = "webhook.endpoint_created", "Webhook endpoint registered"
    WEBHOOK_ENDPOINT_CHANGED = "webhook.endpoint_changed", "Webhook endpoint changed or disabled"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated", "Webhook endpoint's secret rotated"
    WEBHOOK_ATTEMPTED = "webhook.attempted", "Webhook delivery attempted"
    WEBHOOK_DEAD_LETTERED = "webhook.dead_lettered", "Webhook delivery given up after its last attempt"
    WEBHOOK_REPLAYED = "webhook.replayed", "Webhook delivery replayed"
    COUNTERFACTUALS_COMPUTED = "explanation.counterfactuals", "Counterfactuals computed"


class ActorType(models.TextChoices):
    API_KEY = "api_key", "API key"
    USER = "user", "User"
    SUBJECT = "subject", "Data subject"
    SYSTEM = "system", "System"


class AuditEvent(models.Model):
    """One entry of the append-only, hash-chained log.

    `hash` = sha256(prev_hash || canonical JSON of the other fields). Entries hold ids and
    hashes, not personal data, so personal data can be erased without breaking the chain.
    PostgreSQL refuses UPDATE and DELETE on this table (trigger in migration 0002).
    """

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64, db_index=True)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.id} {self.action} {self.object_type}:{self.object_id}"


class Checkpoint(models.Model):
    """A signed statement 'the log had `size` events ending in `head_hash`' (RFC 9162 style).

    Anyone holding the public key and a checkpoint can later prove that the events it covers
    were neither changed nor removed, including at the tail, which a bare chain cannot show.
    """

    created_at = models.DateTimeField()
    last_event_id = models.BigIntegerField()
    size = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["-last_event_id"]
        constraints = [
            models.UniqueConstraint(fields=["last_event_id"], name="checkpoint_unique_head"),
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.size} events @ {self.last_event_id}"
