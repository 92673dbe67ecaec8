import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

MIN_RETENTION_DAYS = 183  # AI Act Art. 19 / 26(6): automatically generated logs kept >= six months


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class DecisionModel(TimeStamped):
    """A decision system the controller runs (e.g. `credit-risk`); it has versions."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelVersion(TimeStamped):
    class Framework(models.TextChoices):
        XGBOOST = "xgboost", "XGBoost"
        KERAS = "keras", "Keras"

    class ExplainerMethod(models.TextChoices):
        AUTO = "auto", "Automatic (exact method for the framework)"
        TREE = "tree", "TreeSHAP"
        DEEP = "deep", "Deep SHAP"
        GRADIENT = "gradient", "Gradient SHAP"
        KERNEL = "kernel", "Kernel SHAP"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    model = models.ForeignKey(DecisionModel, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=64)
    framework = models.CharField(max_length=16, choices=Framework.choices)
    explainer = models.CharField(max_length=16, choices=ExplainerMethod.choices, default=ExplainerMethod.AUTO)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    artifact = models.BinaryField()
    artifact_sha256 = models.CharField(max_length=64)
    feature_schema = models.JSONField()
    output = models.JSONField(help_text="class labels, favourable outcome, threshold, score meaning")
    background = models.BinaryField(help_text="background rows for explainers, as .npy")
    background_sha256 = models.CharField(max_length=64)
    training = models.JSONField(default=dict, blank=True)
    # What the data subject is told (GDPR Art. 13(2)(f), 14(2)(g), 15(1)(h)).
    controller = models.CharField(max_length=200, blank=True)
    purpose = models.TextField(blank=True)
    significance = models.TextField(blank=True)
    consequences = models.TextField(blank=True)
    legal_basis = models.TextField(blank=True)
    contact = models.TextField(blank=True)
    retention_days = models.PositiveIntegerField(default=MIN_RETENTION_DAYS)
    registered_by = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["model__name", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="model_version_unique"),
            models.CheckConstraint(
                condition=Q(retention_days__gte=MIN_RETENTION_DAYS),
                name="model_version_retention_at_least_six_months",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.version}"


class ApiKey(TimeStamped):
    """A credential of an integrating system. Only the key's sha256 is stored."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    # DRF's IsAuthenticated and throttles look for these on request.user.
    is_authenticated = True
    is_anonymous = False


class Decision(models.Model):
    class Kind(models.TextChoices):
        AUTOMATED = "automated", "Automated"
        HUMAN = "human", "Human review"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: (model_version, decided_at) below serves every lookup by version.
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="decisions", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.AUTOMATED)
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    subject_ref = models.CharField(max_length=128, db_index=True)
    reference = models.CharField(max_length=128, blank=True)
    features = models.JSONField()
    features_sha256 = models.CharField(max_length=64)
    score = models.FloatField()
    outcome = models.CharField(max_length=64)
    favourable = models.BooleanField(null=True)
    decided_at = models.DateTimeField()
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.PROTECT)
    access_token_hash = models.CharField(max_length=64, unique=True)
    access_expires_at = models.DateTimeField()
    access_revoked_at = models.DateTimeField(null=True, blank=True)
    # Set when retention erased the personal data (features); the skeleton and chain remain.
    personal_data_erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [
            models.Index(fields=["model_version", "decided_at"]),
            # Exports and the ledger read in (decided_at, id) order: with this index PostgreSQL
            # streams rows in order instead of sorting the whole selection on disk.
            models.Index(fields=["decided_at", "id"], name="decision_decided_at_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.outcome}"


class IdempotencyRecord(models.Model):
    """The first response to an `Idempotency-Key`, replayed to retries of the same request."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_sha256 = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"idempotency key {self.key} of {self.api_key_id}"


# ---------------------------------------------------------------------------- Article 22 workflow
class ReviewRequest(TimeStamped):
    """A data subject's request about one decision (GDPR Art. 22(3)): their view, a contest, or
    human intervention. Due one month after receipt (Art. 12(3)); see decisions/reviews.py."""

    class Kind(models.TextChoices):
        VIEW = "view", "Express my point of view"
        CONTEST = "contest", "Contest the decision"
        HUMAN_INTERVENTION = "human_intervention", "Ask for a person to decide"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        IN_REVIEW = "in_review", "Being reviewed"
        INFO_REQUESTED = "info_requested", "Waiting for your information"
        UPHELD = "upheld", "Decision confirmed"
        OVERTURNED = "overturned", "Decision changed"

    class Grounds(models.TextChoices):
        DATA_WRONG = "data_wrong", "The data used about me is wrong or incomplete"
        REASONING = "reasoning", "The reasons do not fit my situation"
        DISCRIMINATION = "discrimination", "I believe I was treated unfairly"
        OTHER = "other", "Another reason"

    OPEN_STATUSES = (Status.RECEIVED, Status.IN_REVIEW, Status.INFO_REQUESTED)

    reference = models.CharField(max_length=16, unique=True)
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="review_requests")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    grounds = models.CharField(max_length=24, choices=Grounds.choices, blank=True)
    # Personal data, blanked by reviews_erase_personal_data when retention ends.
    statement = models.TextField(blank=True)
    contact_email = models.EmailField(blank=True)
    received_at = models.DateTimeField(db_index=True)
    due_at = models.DateTimeField(db_index=True)
    original_due_at = models.DateTimeField()
    extension_months = models.PositiveSmallIntegerField(default=0)
    extended_at = models.DateTimeField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    # The language the subject used, so that later e-mails reach them in it.
    language = models.CharField(max_length=8, default="en")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="review_requests",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    info_question = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    human_decision = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_at__gte=models.F("original_due_at")), name="review_due_not_earlier"
            ),
            # Art. 12(3): extendable "by two further months", no more.
            models.CheckConstraint(condition=Q(extension_months__lte=2), name="review_extension_at_most_two"),
            models.CheckConstraint(
                condition=~Q(kind="contest") | ~Q(grounds=""), name="review_contest_has_grounds"
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | ~Q(rationale=""), name="review_closed_has_rationale"
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"{self.reference} ({self.kind}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class CaseAction(models.Model):
    """One step in a review request's history, by the subject or a caseworker, with its rationale."""

    class Kind(models.TextChoices):
        RECEIVED = "received", "Request received"
        TAKEN = "taken", "Case taken"
        INFO_REQUESTED = "info_requested", "Information asked for"
        SUBJECT_REPLIED = "subject_replied", "Information supplied"
        EXTENDED = "extended", "Deadline extended"
        UPHELD = "upheld", "Decision upheld"
        OVERTURNED = "overturned", "Decision overturned"

    request = models.ForeignKey(ReviewRequest, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rationale = models.TextField(blank=True)
    # Whether the reviewer's outcome agrees with the model's (uphold) and how long they took:
    # the automation-bias signals (AI Act Art. 14(4)(b)) read these.
    agrees_with_model = models.BooleanField(null=True, blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.request_id}"
