"""Automation-bias signals per caseworker (AI Act Art. 14(4)(b)): how often they agree with the
model and how long they take, for supervisors to spot rubber-stamping."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from .models import CaseAction

# Rubber-stamping: near-total agreement, decided fast, over enough cases for the rate to mean
# something.
BIAS_MIN_CASES = 10
BIAS_AGREEMENT = 0.95
BIAS_MEDIAN_SECONDS = 120


@dataclass(frozen=True)
class ReviewerSignals:
    user_id: int
    username: str
    cases: int
    upheld: int
    overturned: int
    agreement_rate: float | None
    median_seconds: float | None
    rubber_stamping: bool


def automation_bias_signals() -> list[ReviewerSignals]:
    """Per caseworker: how often they agree with the model and how long they take per case.

    Flags rubber-stamping: at least BIAS_MIN_CASES decided, agreement above BIAS_AGREEMENT and a
    median below BIAS_MEDIAN_SECONDS from taking a case to deciding it.
    """
    rows = (
        CaseAction.objects.filter(kind__in=[CaseAction.Kind.UPHELD, CaseAction.Kind.OVERTURNED])
        .exclude(actor=None)
        .values_list("actor_id", "actor__username", "kind", "agrees_with_model", "seconds_spent")
        .order_by("actor__username")
    )
    per_user: dict[int, dict] = {}
    for actor_id, username, kind, agrees, seconds in rows:
        entry = per_user.setdefault(
            actor_id, {"username": username, "upheld": 0, "overturned": 0, "agree": [], "seconds": []}
        )
        entry["upheld" if kind == CaseAction.Kind.UPHELD else "overturned"] += 1
        if agrees is not None:
            entry["agree"].append(agrees)
        if seconds is not None:
            entry["seconds"].append(seconds)
    out = []
    for actor_id, e in per_user.items():
        cases = e["upheld"] + e["overturned"]
        rate = sum(e["agree"]) / len(e["agree"]) if e["agree"] else None
        median = statistics.median(e["seconds"]) if e["seconds"] else None
        flagged = (
            cases >= BIAS_MIN_CASES
            and rate is not None
            and rate > BIAS_AGREEMENT
            and median is not None
            and median < BIAS_MEDIAN_SECONDS
        )
        out.append(
            ReviewerSignals(
                user_id=actor_id,
                username=e["username"],
                cases=cases,
                upheld=e["upheld"],
                overturned=e["overturned"],
                agreement_rate=rate,
                median_seconds=median,
                rubber_stamping=flagged,
            )
        )
    return sorted(out, key=lambda s: (not s.rubber_stamping, s.username))
