import uuid
from datetime import timedelta

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
    # The version a request without `model_version` uses: the first version once its checks
    # pass, later ones only by an explicit, audited promote (decisions.registration).
    default_version = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelVersion(TimeStamped):
    class Framework(models.TextChoices):
        XGBOOST = "xgboost", "XGBoost"
        KERAS = "keras", "Keras"
        SKLEARN = "sklearn", "scikit-learn (skops)"
        LIGHTGBM = "lightgbm", "LightGBM"
        ONNX = "onnx", "ONNX"
        EXTERNAL = "external", "External scorer (not uploaded)"

    class ExplainerMethod(models.TextChoices):
        AUTO = "auto", "Automatic (exact method for the framework)"
        TREE = "tree", "TreeSHAP"
        DEEP = "deep", "Deep SHAP"
        GRADIENT = "gradient", "Gradient SHAP"
        KERNEL = "kernel", "Kernel SHAP"
        LINEAR = "linear", "Linear SHAP (exact)"
        EXACT = "exact", "Exact Shapley values by enumeration"
        PERMUTATION = "permutation", "Permutation SHAP"
        PARTITION = "partition", "Partition SHAP (images)"
        SUPPLIED = "supplied", "Supplied by the controller"

    class Status(models.TextChoices):
        # Registered; its checks run (or ran) and it decides nothing until promoted.
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"
        # Its registration checks failed: `checks` names every reason. It can never decide.
        REJECTED = "rejected", "Rejected"
        # Worker processes died while predicting or explaining with it (MODEL_CRASH_LIMIT times):
        # it decides and explains nothing more; its pending explanations were failed with the reason.
        SUSPENDED = "suspended", "Suspended (crashed its workers)"

    model = models.ForeignKey(DecisionModel, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=64)
    framework = models.CharField(max_length=16, choices=Framework.choices)
    explainer = models.CharField(max_length=16, choices=ExplainerMethod.choices, default=ExplainerMethod.AUTO)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    # {"state": "pending" | "passed" | "failed", "reasons": [...], "report": {...}, "checked_at"}
    checks = models.JSONField(default=dict, blank=True)
    # A candidate in shadow is scored and explained beside the default on live decisions,
    # without deciding (explanations.shadow).
    shadow = models.BooleanField(default=False)
    # Worker processes lost while running this version (counted by the sweeper); at
    # MODEL_CRASH_LIMIT the version is suspended.
    crashes = models.PositiveIntegerField(default=0)
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
    # The texts above per language, {"de": {"purpose": ...}}; decisions.translations.version_texts
    # reads them, each falling back to the default.
    text_translations = models.JSONField(default=dict, blank=True)
    retention_days = models.PositiveIntegerField(default=MIN_RETENTION_DAYS)
    # Referral rules (AI Act Art. 14): which of this version's decisions a person reviews before
    # they take effect. {} refers none; decisions.referral checks and applies them.
    referral_rules = models.JSONField(default=dict, blank=True)
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
        # A person at the controller decided, using the model's output as one input (AI Act
        # Art. 86): their outcome is the decision's, the model's is kept beside it.
        ASSISTED = "assisted", "Decided by a person with the model's output"

    class Status(models.TextChoices):
        FINAL = "final", "Final"
        # Referred by its version's referral rules: it takes effect only once a caseworker has
        # confirmed it (-> final) or changed it (-> replaced, by the human decision superseding it).
        PENDING_REVIEW = "pending_review", "Waiting for a person's review before it takes effect"
        REPLACED = "replaced", "Changed by a person before it took effect"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: (model_version, decided_at) below serves every lookup by version.
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="decisions", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.AUTOMATED)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FINAL)
    # Why it was referred (["score_band", "sample", ...]) and by when a person must decide.
    referral_reasons = models.JSONField(default=list, blank=True)
    review_due_at = models.DateTimeField(null=True, blank=True)
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    subject_ref = models.CharField(max_length=128, db_index=True)
    reference = models.CharField(max_length=128, blank=True)
    features = models.JSONField()
    # HMAC-SHA256 of the features under `features_key` (decisions.commitments): it can be checked
    # against the features, or tested against guesses, only while the key exists. Erasure sets
    # the key to NULL with the features; decisions erased before keys existed keep "" here.
    features_commitment = models.CharField(max_length=64, blank=True)
    # The decision's own random key. On the decision row rather than a table of its own: every
    # insert path (one statement, COPY, bulk_create) writes it with no extra statement, and the
    # erasure that blanks the features nulls it in the same UPDATE.
    features_key = models.BinaryField(null=True, editable=False)
    score = models.FloatField()
    outcome = models.CharField(max_length=64)
    favourable = models.BooleanField(null=True)
    # An assisted decision's: what the model would have decided, and the controller's reference of
    # the person who decided (a staff number, never shown to the subject).
    model_outcome = models.CharField(max_length=64, blank=True)
    decided_by = models.CharField(max_length=128, blank=True)
    decided_at = models.DateTimeField()
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.PROTECT)
    access_token_hash = models.CharField(max_length=64, unique=True)
    access_expires_at = models.DateTimeField()
    access_revoked_at = models.DateTimeField(null=True, blank=True)
    # Set when retention erased the personal data (features); the skeleton and chain remain.
    personal_data_erased_at = models.DateTimeField(null=True, blank=True)
    # Set when the person asked for erasure before the AI Act's six months of logs had passed: the
    # data is kept but no longer shown to caseworkers, then erased (oversight.erasure, retention).
    restricted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [
            models.Index(fields=["model_version", "decided_at"]),
            # Exports and the ledger read in (decided_at, id) order: with this index PostgreSQL
            # streams rows in order instead of sorting the whole selection on disk.
            models.Index(fields=["decided_at", "id"], name="decision_decided_at_id_idx"),
            # The caseworkers' queue of referred decisions: a few rows among millions.
            models.Index(
                fields=["review_due_at"],
                condition=models.Q(status="pending_review"),
                name="decision_pending_review_idx",
            ),
        ]
        constraints = [
            # One outcome in force: a review replaces the decision in force, so the history of a
            # decision is a line (automated -> human -> human), never a fork of rival outcomes.
            models.UniqueConstraint(fields=["supersedes"], name="decision_superseded_once"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.outcome}"

    @property
    def restricted_until(self):
        """When a decision restricted on request is erased: the end of the AI Act's six months."""
        return self.decided_at + timedelta(days=MIN_RETENTION_DAYS) if self.restricted_at else None


class IdempotencyRecord(models.Model):
    """The first response to an `Idempotency-Key`, replayed to retries of the same request."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_sha256 = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    # Pruned IDEMPOTENCY_REPLAY_HOURS after this (decisions.idempotency.idempotency_prune).
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"idempotency key {self.key} of {self.api_key_id}"


class StaffIdentity(TimeStamped):
    """The single sign-on account a staff user signs in with: the provider's issuer and its `sub`,
    which the provider never reassigns. Never matched by e-mail address (decisions.sso)."""

    user = models.OneToOneField("auth.User", on_delete=models.CASCADE, related_name="sso_identity")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="staff_identity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject}"
