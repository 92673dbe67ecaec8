"""Read paths of the decision ledger."""

from __future__ import annotations

from .models import Decision

MAX_REVIEW_CHAIN = 50  # a chain of reviews is short; the bound guards against a cycle


def decision_chain(decision: Decision) -> list[Decision]:
    """The decision and each human decision that replaced the one before it, oldest first: the
    automated outcome, then every change a person made on review. The last is the one in force.

    The history is linear: at most one decision supersedes a given one (a constraint on the table,
    and reviews lock the original while they decide), so each step has one successor or none."""
    chain = [decision]
    for _ in range(MAX_REVIEW_CHAIN):
        newer = Decision.objects.select_related("model_version__model").filter(supersedes=chain[-1]).first()
        if newer is None:
            break
        chain.append(newer)
    return chain


def effective_decision(decision: Decision) -> Decision:
    """The decision in force: the last human decision of its chain, or itself."""
    return decision_chain(decision)[-1]
