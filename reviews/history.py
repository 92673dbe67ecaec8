"""A decision's outcome in force and how it came to be: the automated outcome, then each review a
person decided on it (confirmed, or changed into a new human decision), oldest first.

The subject's page, the caseworker's case page and the outcome e-mail all read it from here, so
they tell the same story. What the subject is shown names the reviewer's role, never their name;
only the caseworker's `earlier_reviews` say who.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.utils.translation import pgettext_lazy

from decisions.auth import CASEWORKER
from decisions.models import Decision
from decisions.selectors import decision_chain

from .models import CaseAction, ReviewRequest
from .selectors import closed_reviews_of_decision

# The role a review was decided under is recorded on its closing step (reviews.services.casework).
# Reviews closed before the role was recorded were a caseworker's: no one else could decide.
ROLE_LABELS = {CASEWORKER: pgettext_lazy("the role of a person who decided on review", "caseworker")}

AUTOMATED = "automated"
ASSISTED = "assisted"  # a person at the controller decided using the model's output
CHANGED = "changed"
RECTIFIED = "rectified"  # the same model decided again on data the person had corrected
UPHELD = "upheld"
_CLOSING = (CaseAction.Kind.UPHELD, CaseAction.Kind.OVERTURNED)


def _closing_action(request: ReviewRequest) -> CaseAction | None:
    closing = [a for a in request.actions.all() if a.kind in _CLOSING]
    return closing[-1] if closing else None


def _step(
    kind: str,
    *,
    decision: Decision,
    at: datetime,
    previous: str = "",
    previous_request: str = "",
    review=None,
    reviewers: bool,
) -> dict:
    action = _closing_action(review) if review is not None else None
    role = (action.data.get("role") if action is not None else "") or (CASEWORKER if review else "")
    step = {
        "kind": kind,
        "decision": decision,
        "outcome": decision.outcome,
        "favourable": decision.favourable,
        "previous": previous,
        "previous_request": previous_request,
        "at": at,
        "role": role,
        "role_label": ROLE_LABELS.get(role, role),
        "request": review.reference if review is not None else "",
        "rationale": review.rationale if review is not None else "",
        "current": False,
        "replaced": False,
        "replaced_by": "",
    }
    if reviewers:  # only ever for caseworkers: the subject is told the role, not the name
        step["reviewer"] = action.actor if action is not None else None
    return step


def outcome_history(decision: Decision, *, reviewers: bool = False) -> dict:
    """The outcome in force of `decision` and how it came to be:

    - `in_force`: the Decision whose outcome holds now;
    - `history`: its steps, oldest first, dicts with `kind` ("automated", "changed", "upheld"),
      `outcome`, `favourable`, `previous` (the outcome the step started from), `previous_request`
      (the review that made that outcome, "" for the automated one), `at`, `role`, `role_label`,
      `request` (the review's reference), `rationale`, `current` (its decision is in force),
      `replaced` and `replaced_by` (the review that changed it later); with `reviewers` (for
      caseworkers only, never the subject) also `reviewer`, the user who decided;
    - `how_decided`: `by_person` (a person's decision is in force), `step` (the step that made
      the outcome in force) and `confirmed` (the latest review that upheld it, or None)."""
    chain = decision_chain(decision)
    in_force = chain[-1]
    by_id = {d.pk: d for d in chain}
    reviews = list(closed_reviews_of_decision(chain[0]))
    changed_by = {r.human_decision_id: r for r in reviews if r.human_decision_id is not None}
    made_by = {pk: r.reference for pk, r in changed_by.items()}  # decision id -> the review that made it
    steps = []
    for i, link in enumerate(chain):
        if link.kind == Decision.Kind.AUTOMATED and i == 0:
            steps.append(_step(AUTOMATED, decision=link, at=link.decided_at, reviewers=reviewers))
            continue
        if link.kind == Decision.Kind.ASSISTED and i == 0:
            step = _step(ASSISTED, decision=link, at=link.decided_at, reviewers=reviewers)
            step["model_outcome"] = link.model_outcome
            steps.append(step)
            continue
        before = chain[i - 1] if i else None
        steps.append(
            _step(
                RECTIFIED if link.kind == Decision.Kind.AUTOMATED else CHANGED,
                decision=link,
                at=link.decided_at,
                previous=before.outcome if before else "",
                previous_request=made_by.get(before.pk, "") if before else "",
                review=changed_by.get(link.pk),
                reviewers=reviewers,
            )
        )
    for review in reviews:
        action = _closing_action(review)
        if review.status != ReviewRequest.Status.UPHELD or action is None:
            continue
        upheld = by_id.get(_uuid_of(action.data.get("decision")), chain[0])
        steps.append(
            _step(
                UPHELD,
                decision=upheld,
                at=review.closed_at,
                previous=upheld.outcome,
                previous_request=made_by.get(upheld.pk, ""),
                review=review,
                reviewers=reviewers,
            )
        )
    steps.sort(key=lambda s: s["at"])
    for step in steps:
        step["current"] = step["decision"].pk == in_force.pk
    for earlier, later in zip(chain, chain[1:], strict=False):
        replacing = changed_by.get(later.pk)
        for step in steps:
            if step["decision"].pk == earlier.pk:
                step["replaced"] = True
                step["replaced_by"] = replacing.reference if replacing is not None else ""
    made = next(s for s in reversed(steps) if s["current"] and s["kind"] != UPHELD)
    confirmed = [s for s in steps if s["current"] and s["kind"] == UPHELD and s["at"] >= made["at"]]
    return {
        "in_force": in_force,
        "history": steps,
        "how_decided": {
            "by_person": in_force.kind == Decision.Kind.HUMAN,
            # The first decision was a person's, the model's output one of their inputs.
            "assisted": chain[0].kind == Decision.Kind.ASSISTED and in_force.kind != Decision.Kind.HUMAN,
            "step": made,
            "confirmed": confirmed[-1] if confirmed else None,
        },
    }


def _uuid_of(value) -> uuid.UUID | None:
    """The id of the decision a review upheld, as stored in its step's data (text)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def earlier_reviews(case: ReviewRequest) -> list[dict]:
    """For the caseworker deciding `case`: every other review a person decided on the same
    decision, oldest first, with what was decided, by whom (`reviewer`), the rationale and when;
    `current` marks the one whose outcome is in force."""
    history = outcome_history(case.decision, reviewers=True)["history"]
    return [s for s in history if s["request"] and s["request"] != case.reference]
