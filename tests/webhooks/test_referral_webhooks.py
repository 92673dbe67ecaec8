"""Human review before effect, as the controller's system hears of it: a decision in its
version's score band is recorded pending_review and its webhook says so; when the caseworker
decides, review.decided reaches the receiver with the outcome now in force and the decision final
(confirmed) or replaced by the person's decision (changed)."""

from __future__ import annotations

import json

import pytest

from audit.services import Actor
from decisions.models import Decision
from decisions.referral import referral_rules_set
from reviews.services import casework
from reviews.services.referrals import referral_take
from tests.services import wait_until

from .conftest import record_decisions, register

pytestmark = pytest.mark.integration
RATIONALE = "Checked the income documents against the application; the outcome holds as stated."


def bodies(receiver, event_type: str) -> dict[str, dict]:
    """The verified deliveries of one type, by decision id."""
    found = {}
    for accepted in receiver.accepted():
        body = json.loads(accepted["body"])
        if body["type"] == event_type:
            found[body["data"]["decision"]] = body["data"]
    return found


def test_referred_decisions_are_announced_pending_and_the_caseworkers_decision_is_delivered(
    webhook_worker, integration, credit_version, credit_trained, caseworker, receiver_factory
):
    # Every decision is in the band: the whole score range around the threshold.
    rules = {"score_band": {"below": 1.0, "above": 1.0}}
    referral_rules_set(version=credit_version, rules=rules, actor=Actor.system("tests"))
    receiver = receiver_factory()
    endpoint = register(integration, receiver.url, ["decision.recorded", "review.decided"])
    receiver.start(secrets=[endpoint["secret"]])
    confirmed, changed = record_decisions(integration, credit_trained.sample_rows[:2], prefix="ref")
    assert confirmed["status"] == changed["status"] == "pending_review"
    assert confirmed["referral"]["reasons"] == ["score_band"]

    wait_until(lambda: len(bodies(receiver, "decision.recorded")) == 2, timeout=60, what="2 recorded")
    announced = bodies(receiver, "decision.recorded")
    assert {d["status"] for d in announced.values()} == {"pending_review"}
    assert announced[confirmed["id"]]["referral_reasons"] == ["score_band"]
    assert not bodies(receiver, "review.decided")  # nothing decided yet: nothing in effect

    first = referral_take(decision=Decision.objects.get(pk=confirmed["id"]), user=caseworker)
    casework.review_uphold(request=first, user=caseworker, rationale=RATIONALE)
    second = referral_take(decision=Decision.objects.get(pk=changed["id"]), user=caseworker)
    other = "refused" if changed["outcome"] == "approved" else "approved"
    casework.review_overturn(request=second, user=caseworker, new_outcome=other, rationale=RATIONALE)

    wait_until(lambda: len(bodies(receiver, "review.decided")) == 2, timeout=60, what="2 decided")
    decided = bodies(receiver, "review.decided")
    kept = decided[confirmed["id"]]
    assert (kept["outcome"], kept["referral"], kept["reference"]) == ("upheld", True, first.reference)
    assert kept["decision_in_force"] == confirmed["id"] and kept["outcome_in_force"] == confirmed["outcome"]
    assert Decision.objects.get(pk=confirmed["id"]).status == "final"
    replaced = decided[changed["id"]]
    human = Decision.objects.get(supersedes_id=changed["id"])
    assert (replaced["outcome"], replaced["referral"]) == ("overturned", True)
    assert replaced["human_decision"] == replaced["decision_in_force"] == str(human.pk)
    assert replaced["outcome_in_force"] == other == human.outcome
    assert Decision.objects.get(pk=changed["id"]).status == "replaced"
    assert receiver.state()["rejected"] == 0
