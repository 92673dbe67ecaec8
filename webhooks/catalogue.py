"""The event types an endpoint can subscribe to, and the audit actions each is made from.

Every event a webhook carries already has its audit event, written in the transaction of the
change it records: the audit log is the outbox (webhooks.dispatch).
"""

from __future__ import annotations

from audit.models import Action

DECISION_RECORDED = "decision.recorded"
DECISION_REFERRED = "decision.referred"
DECISION_SUPERSEDED = "decision.superseded"
EXPLANATION_DONE = "explanation.done"
EXPLANATION_FAILED = "explanation.failed"
REVIEW_REQUESTED = "review.requested"
REVIEW_INFO_REQUESTED = "review.info_requested"
REVIEW_DECIDED = "review.decided"
REVIEW_DEADLINE_NEAR = "review.deadline_near"
REVIEW_DEADLINE_MISSED = "review.deadline_missed"

# Each type with what it tells the receiver: the catalogue endpoint and docs/webhooks.md.
EVENT_TYPES = {
    DECISION_RECORDED: "A decision was recorded; `status` says whether it is final or pending a person's review.",
    DECISION_REFERRED: "A recorded decision was referred to a person before it takes effect.",
    DECISION_SUPERSEDED: "A new decision (a person's, or one on corrected data) replaced a decision.",
    EXPLANATION_DONE: "A decision's explanation was computed.",
    EXPLANATION_FAILED: "A decision's explanation could not be computed.",
    REVIEW_REQUESTED: "A review of a decision was opened: by its subject, by staff or by a referral.",
    REVIEW_INFO_REQUESTED: "The caseworker asked the subject for information.",
    REVIEW_DECIDED: "A review was decided: upheld, overturned, rectified or rejected.",
    REVIEW_DEADLINE_NEAR: "An open review's legal deadline is near.",
    REVIEW_DEADLINE_MISSED: "An open review's legal deadline passed.",
}

# Audit action -> event type. A decision.recorded event of a decision that supersedes another
# becomes decision.superseded (webhooks.payloads).
ACTION_EVENT_TYPES = {
    Action.DECISION_RECORDED: DECISION_RECORDED,
    Action.DECISION_REFERRED: DECISION_REFERRED,
    Action.EXPLANATION_COMPUTED: EXPLANATION_DONE,
    Action.EXPLANATION_FAILED: EXPLANATION_FAILED,
    Action.REVIEW_REQUESTED: REVIEW_REQUESTED,
    Action.REVIEW_OPENED: REVIEW_REQUESTED,
    Action.REVIEW_INFO_REQUESTED: REVIEW_INFO_REQUESTED,
    Action.REVIEW_UPHELD: REVIEW_DECIDED,
    Action.REVIEW_OVERTURNED: REVIEW_DECIDED,
    Action.REVIEW_RECTIFIED: REVIEW_DECIDED,
    Action.REVIEW_RECTIFICATION_REJECTED: REVIEW_DECIDED,
    Action.REVIEW_DEADLINE_NEAR: REVIEW_DEADLINE_NEAR,
    Action.REVIEW_DEADLINE_MISSED: REVIEW_DEADLINE_MISSED,
}

# review.decided's `outcome` per audit action.
REVIEW_OUTCOMES = {
    Action.REVIEW_UPHELD: "upheld",
    Action.REVIEW_OVERTURNED: "overturned",
    Action.REVIEW_RECTIFIED: "rectified",
    Action.REVIEW_RECTIFICATION_REJECTED: "rejected",
}
