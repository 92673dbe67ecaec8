"""Read paths of the decision ledger."""

from __future__ import annotations

from .models import Decision

MAX_REVIEW_CHAIN = 50  # a chain of reviews is short; the bound guards against a cycle


def effective_decision(decision: Decision) -> Decision:
    """The decision in force: the newest human decision that supersedes this one, or itself."""
    current = decision
    for _ in range(MAX_REVIEW_CHAIN):
        newer = (
            Decision.objects.select_related("model_version__model")
            .filter(supersedes=current)
            .order_by("-decided_at")
            .first()
        )
        if newer is None:
            return current
        current = newer
    return current
