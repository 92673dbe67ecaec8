"""Keyed commitments: each decision's features are committed to under a random key of its own,
which the decision and its audit event never hold beside an unsalted digest."""

import hashlib
import json

import pytest

from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions.commitments import commitment_verifies, features_commitment
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations.recording import decision_record_many
from reviews.services import casework, requests

pytestmark = pytest.mark.django_db


def unsalted(features) -> str:
    """The digest decisions used to carry: sha256 of the canonical JSON."""
    return hashlib.sha256(json.dumps(features, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@pytest.mark.parametrize("count", [1, 30])  # one statement, and COPY
def test_a_recorded_decision_commits_to_its_features_under_its_own_key(credit_version, credit_trained, count):
    rows = [dict(credit_trained.sample_rows[i % 8]) for i in range(count)]
    items = [DecisionInput(model="credit-risk", subject_ref=f"s-{i}", features=r) for i, r in enumerate(rows)]
    recorded = decision_record_many(items=items, actor=Actor.system("tests"))

    stored = Decision.objects.filter(pk__in=[r.decision.pk for r in recorded])
    assert len({bytes(d.features_key) for d in stored}) == count  # a key each, never shared
    for d in stored:
        key = bytes(d.features_key)
        assert len(key) == 32
        assert d.features_commitment == features_commitment(key=key, features=d.features)
        assert commitment_verifies(key=key, features=d.features, commitment=d.features_commitment) is True
        changed = dict(d.features, credit_amount=d.features["credit_amount"] + 1)
        assert commitment_verifies(key=key, features=changed, commitment=d.features_commitment) is False
        assert d.features_commitment != unsalted(d.features)
        event = AuditEvent.objects.get(action=Action.DECISION_RECORDED, object_id=str(d.pk))
        assert event.data["features_commitment"] == d.features_commitment
        assert unsalted(d.features) not in json.dumps(event.data)


def test_a_persons_decision_on_review_has_a_key_of_its_own(credit_version, credit_trained, caseworker):
    [recorded] = decision_record_many(
        items=[DecisionInput(model="credit-risk", subject_ref="s-1", features=credit_trained.sample_rows[0])],
        actor=Actor.system("tests"),
    )
    request = requests.review_request_create(
        decision=recorded.decision, kind="contest", grounds="reasoning", statement="It does not fit."
    )
    casework.review_take(request=request, user=caseworker)
    human_outcome = next(c for c in credit_version.output["class_labels"] if c != recorded.decision.outcome)
    casework.review_overturn(
        request=request, user=caseworker, new_outcome=human_outcome, rationale="The income was misread here."
    )

    human = Decision.objects.get(supersedes=recorded.decision)
    key = bytes(human.features_key)
    assert key != bytes(Decision.objects.get(pk=recorded.decision.pk).features_key)
    assert human.features_commitment == features_commitment(key=key, features=human.features)
    event = AuditEvent.objects.get(action=Action.DECISION_RECORDED, object_id=str(human.pk))
    assert event.data["features_commitment"] == human.features_commitment
    assert unsalted(human.features) not in json.dumps(event.data)


def test_a_commitment_cannot_be_checked_once_its_key_is_gone():
    features = {"age": 41}
    commitment = features_commitment(key=b"k" * 32, features=features)
    assert commitment_verifies(key=None, features=features, commitment=commitment) is None
