"""The Article 22 workflow's records: a data subject's requests about a decision and each step
taken on them. The tables keep the names they had when these models lived in `decisions`."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from config.encryption import EncryptedTextField
from decisions.models import Decision, TimeStamped


class ReviewRequest(TimeStamped):
    """A data subject's request about one decision (GDPR Art. 22(3)): their view, a contest, or
    human intervention. Due one month after receipt (Art. 12(3)); see reviews/deadlines.py."""

    class Kind(models.TextChoices):
        VIEW = "view", "Express my point of view"
        CONTEST = "contest", "Contest the decision"
        HUMAN_INTERVENTION = "human_intervention", "Ask for a person to decide"
        # Art. 16 with Art. 22: some data was wrong; accepted corrections are decided again.
        RECTIFY = "rectify", "Correct my data"
        # Not the subject's: a decision its version's referral rules held for a person before it
        # takes effect (AI Act Art. 14), or a review a caseworker or auditor opened themselves.
        REFERRAL = "referral", "Referred to a person before it takes effect"
        STAFF = "staff", "Review opened by staff"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        IN_REVIEW = "in_review", "Being reviewed"
        INFO_REQUESTED = "info_requested", "Waiting for your information"
        UPHELD = "upheld", "Decision confirmed"
        OVERTURNED = "overturned", "Decision changed"
        RECTIFIED = "rectified", "Data corrected and decided again"
        REJECTED = "rejected", "Correction refused"

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
    # Personal data, blanked by reviews_erase_personal_data when retention ends. What the person
    # wrote and their address are encrypted at rest (config.encryption); empty stays "".
    statement = EncryptedTextField(blank=True)
    # A rectification's proposed values, {feature: value}, checked against the version's schema
    # (reviews.services.rectify). Personal data, like the statement.
    corrections = models.JSONField(default=dict, blank=True)
    # Checked as an address by the service that takes it (reviews.services.requests).
    contact_email = EncryptedTextField(blank=True)
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
    # The decision this review recorded: a person's (overturned), or the model's again on the
    # corrected data (rectified).
    human_decision = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        db_table = "decisions_reviewrequest"
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
        indexes = [
            models.Index(fields=["status", "due_at"], name="decisions_r_status_604ed1_idx"),
            # The integrating system polls its reviews by `updated_since`, in (updated_at, id) order.
            models.Index(fields=["updated_at", "id"], name="review_updated_at_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.kind}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class CaseAction(models.Model):
    """One step in a review request's history, by the subject or a caseworker, with its rationale."""

    class Kind(models.TextChoices):
        RECEIVED = "received", "Request received"
        OPENED = "opened", "Review opened by staff"
        TAKEN = "taken", "Case taken"
        INFO_REQUESTED = "info_requested", "Information asked for"
        SUBJECT_REPLIED = "subject_replied", "Information supplied"
        EXTENDED = "extended", "Deadline extended"
        UPHELD = "upheld", "Decision upheld"
        OVERTURNED = "overturned", "Decision overturned"
        RECTIFIED = "rectified", "Data corrected and decided again"
        RECTIFICATION_REJECTED = "rectification_rejected", "Correction refused"

    request = models.ForeignKey(ReviewRequest, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A caseworker's reasons, or the person's own reply to a question (SUBJECT_REPLIED): encrypted
    # at rest like the statement, since it holds what the person wrote.
    rationale = EncryptedTextField(blank=True)
    # Whether the reviewer's outcome agrees with the model's (uphold) and how long they took:
    # the automation-bias signals (AI Act Art. 14(4)(b)) read these.
    agrees_with_model = models.BooleanField(null=True, blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "decisions_caseaction"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.request_id}"
