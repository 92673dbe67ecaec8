"""Referral rules (AI Act Art. 14): which of a model version's decisions a person reviews before
they take effect. docs/referrals.md describes the format:

    {"score_band": {"below": 0.05, "above": 0.05},        # or {"min": 0.45, "max": 0.55}
     "sample_rate": 0.02,
     "flagged_explanation": {"additivity_tolerance": 1e-6},  # or true: the method's own bound
     "protected_groups": {"attributes": ["foreign_worker"], "min_ratio": 0.8, "window": 1000},
     "deadline_hours": 72}

`referral_apply` runs on every recording, after prediction and before anything is written: a
referred decision is recorded `pending_review` with its reasons and its deadline. A version
without rules costs one lookup in the connection's registry cache per request. A flagged
explanation is known only after the fact: explanations.store refers those decisions then
(`referral_refer_flagged`).
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from audit.models import Action
from audit.services import Actor, EventSpec, audit_record
from config.errors import ApplicationError

from . import storage
from .models import Decision, ModelVersion
from .predictors.base import favourable_label
from .registry import schema_of

RULES = ("score_band", "sample_rate", "flagged_explanation", "protected_groups", "deadline_hours")
# The reasons a decision carries, in the order they are checked.
SCORE_BAND, SAMPLE, PROTECTED_GROUP, FLAGGED_EXPLANATION = (
    "score_band",
    "sample",
    "protected_group",
    "flagged_explanation",
)
MAX_DEADLINE_HOURS = 24 * 90
GROUP_DEFAULTS = {"min_ratio": 0.8, "window": 1000, "min_group_decisions": 30}

# The sample is drawn from the operating system's randomness: neither the controller nor anyone
# reading the code can tell which decisions will be sampled.
_random = random.SystemRandom()
# version id -> (rules the rates were read under, monotonic time read, {attribute: disadvantaged values})
_group_rates: dict[int, tuple[dict, float, dict[str, set]]] = {}


# ---------------------------------------------------------------------------- checking rules
def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _score_band_error(band: Any, output: dict) -> str | None:
    if output["type"] not in ("binary", "regression"):
        return "a score band needs a binary or regression model: a multiclass score has no threshold"
    if not isinstance(band, dict) or not band:
        return 'must be {"below": x, "above": y} around the threshold, or {"min": a, "max": b}'
    relative, absolute = set(band) & {"below", "above"}, set(band) & {"min", "max"}
    if set(band) - {"below", "above", "min", "max"} or (relative and absolute):
        return 'give either "below"/"above" (around the threshold) or "min"/"max", not both'
    if not all(_number(v) for v in band.values()):
        return "its bounds must be numbers"
    if relative and any(v < 0 for v in band.values()):
        return '"below" and "above" are distances from the threshold: at least 0'
    if absolute and band.keys() != {"min", "max"}:
        return 'an absolute band needs both "min" and "max"'
    if absolute and band["min"] > band["max"]:
        return '"min" must not be above "max"'
    return None


def _protected_groups_error(rule: Any, version: ModelVersion) -> str | None:
    if not isinstance(rule, dict) or set(rule) - {"attributes", *GROUP_DEFAULTS}:
        return 'must be {"attributes": [...], "min_ratio": 0.8, "window": 1000, "min_group_decisions": 30}'
    if favourable_label(version.output) is None:
        return "the model has no favourable outcome to compare groups by"
    attributes = rule.get("attributes")
    if not isinstance(attributes, list) or not attributes:
        return "attributes: name at least one protected categorical feature of the schema"
    features = {f.name: f for f in schema_of(version).features}
    for name in attributes:
        feature = features.get(name) if isinstance(name, str) else None
        if feature is None or not feature.protected or feature.type != "categorical":
            return f"attributes: {name!r} is not a protected categorical feature of this version's schema"
    ratio = rule.get("min_ratio", GROUP_DEFAULTS["min_ratio"])
    if not _number(ratio) or not 0 < ratio <= 1:
        return "min_ratio must be a number above 0 and at most 1 (0.8 is the four-fifths rule)"
    for name, low, high in (("window", 10, 100_000), ("min_group_decisions", 1, 100_000)):
        value = rule.get(name, GROUP_DEFAULTS[name])
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            return f"{name} must be a whole number from {low} to {high}"
    return None


def referral_rules_clean(*, rules: Any, version: ModelVersion) -> dict:
    """The rules, checked against the version; a 400 naming every bad rule otherwise."""
    if not isinstance(rules, dict):
        raise ApplicationError("invalid referral rules", fields={"rules": "must be an object of rules"})
    errors: dict[str, str] = {
        str(name): f"unknown rule; the rules are {', '.join(RULES)}" for name in rules if name not in RULES
    }
    if "score_band" in rules and (message := _score_band_error(rules["score_band"], version.output)):
        errors["score_band"] = message
    if "sample_rate" in rules and not (_number(rules["sample_rate"]) and 0 <= rules["sample_rate"] <= 1):
        errors["sample_rate"] = "must be a share from 0 to 1 (0.1 refers one decision in ten)"
    flagged = rules.get("flagged_explanation")
    if "flagged_explanation" in rules and not (
        flagged is True
        or (
            isinstance(flagged, dict)
            and flagged.keys() == {"additivity_tolerance"}
            and _number(flagged["additivity_tolerance"])
            and flagged["additivity_tolerance"] >= 0
        )
    ):
        errors["flagged_explanation"] = 'must be true, or {"additivity_tolerance": a number of at least 0}'
    if "protected_groups" in rules and (
        message := _protected_groups_error(rules["protected_groups"], version)
    ):
        errors["protected_groups"] = message
    hours = rules.get("deadline_hours")
    if "deadline_hours" in rules and not (
        isinstance(hours, int) and not isinstance(hours, bool) and 1 <= hours <= MAX_DEADLINE_HOURS
    ):
        errors["deadline_hours"] = f"must be a whole number of hours from 1 to {MAX_DEADLINE_HOURS}"
    if errors:
        raise ApplicationError("invalid referral rules", fields=errors)
    return rules


@transaction.atomic
def referral_rules_set(*, version: ModelVersion, rules: Any, actor: Actor) -> ModelVersion:
    """Replace a version's referral rules ({} refers none), audited with the old and the new."""
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    rules = referral_rules_clean(rules=rules, version=version)
    previous = version.referral_rules
    version.referral_rules = rules
    version.save(update_fields=["referral_rules", "updated_at"])
    audit_record(
        actor=actor,
        action=Action.MODEL_REFERRAL_CHANGED,
        object_type="model_version",
        object_id=version.pk,
        data={"model": version.model.name, "version": version.version, "old": previous, "new": rules},
    )
    return version


def referral_rules_of(version: ModelVersion) -> dict:
    """The version's rules as committed now, for a version object that may be old (a worker's):
    read through the connection's registry cache, which a change to any version drops. A version
    from decisions.registry.resolve_model_version (recording) carries them already."""
    return (
        storage.registry_lookup(
            ("referral_rules", version.pk), lambda: storage.model_version_referral_rules(version.pk)
        )
        or {}
    )


# ---------------------------------------------------------------------------- applying them
def referral_apply(decisions: list[Decision], versions: list[ModelVersion], *, now: datetime) -> None:
    """Refer the automated decisions their version's rules select: status pending_review, the
    reasons, and the deadline. Decisions of versions without rules are not looked at."""
    # The versions come from resolve_model_version, which refreshed their rules with their status.
    ruled = {v.pk: (v, v.referral_rules) for v in versions if v.referral_rules}
    if not ruled:
        return
    for decision in decisions:
        found = ruled.get(decision.model_version_id)
        if found is None or decision.kind != Decision.Kind.AUTOMATED:
            continue
        version, rules = found
        reasons = _reasons(decision, version, rules)
        if reasons:
            refer(decision, reasons=reasons, rules=rules, now=now)


def refer(decision: Decision, *, reasons: list[str], rules: dict, now: datetime) -> None:
    """Mark an unsaved decision referred, adding to any reasons it has already."""
    decision.status = Decision.Status.PENDING_REVIEW
    decision.referral_reasons = [*decision.referral_reasons, *reasons]
    decision.review_due_at = decision.review_due_at or referral_due(rules, now)


def referral_event_data(decision: Decision) -> dict:
    """What a referred decision's `decision.recorded` event adds; nothing for any other."""
    if decision.status == Decision.Status.FINAL:
        return {}
    return {
        "status": decision.status,
        "referral": {"reasons": decision.referral_reasons, "due_at": decision.review_due_at.isoformat()},
    }


def referral_due(rules: dict, now: datetime) -> datetime:
    return now + timedelta(hours=rules.get("deadline_hours", settings.REFERRAL_DEADLINE_HOURS))


def _reasons(decision: Decision, version: ModelVersion, rules: dict) -> list[str]:
    reasons = []
    band = rules.get("score_band")
    if band is not None:
        low, high = score_band_bounds(band, version.output)
        if low <= decision.score <= high:
            reasons.append(SCORE_BAND)
    groups = rules.get("protected_groups")
    if groups is not None and decision.favourable is False:
        disadvantaged = _disadvantaged_groups(version, groups)
        if any(decision.features.get(name) in values for name, values in disadvantaged.items()):
            reasons.append(PROTECTED_GROUP)
    rate = rules.get("sample_rate", 0)
    if rate and _random.random() < rate:
        reasons.append(SAMPLE)
    return reasons


def score_band_bounds(band: dict, output: dict) -> tuple[float, float]:
    """[low, high] of a score band: absolute, or around the version's threshold."""
    if "min" in band:
        return band["min"], band["max"]
    threshold = float(output.get("threshold", 0.5))
    return threshold - band.get("below", 0), threshold + band.get("above", 0)


def _disadvantaged_groups(version: ModelVersion, rule: dict) -> dict[str, set]:
    """{attribute: its values whose favourable rate is under min_ratio of the best group's}, over
    the version's last `window` automated decisions; read at most every
    REFERRAL_GROUP_RATES_SECONDS per process, never once per decision."""
    cached = _group_rates.get(version.pk)
    if (
        cached is not None
        and cached[0] == rule
        and time.monotonic() - cached[1] < settings.REFERRAL_GROUP_RATES_SECONDS
    ):
        return cached[2]
    window = rule.get("window", GROUP_DEFAULTS["window"])
    ratio = rule.get("min_ratio", GROUP_DEFAULTS["min_ratio"])
    minimum = rule.get("min_group_decisions", GROUP_DEFAULTS["min_group_decisions"])
    recent = Decision.objects.filter(model_version_id=version.pk, kind=Decision.Kind.AUTOMATED).order_by(
        "-decided_at"
    )
    found = {}
    for name in rule["attributes"]:
        rows = list(recent.values_list(f"features__{name}", "favourable")[:window])
        found[name] = disadvantaged_values(rows, min_ratio=ratio, min_group_decisions=minimum)
    _group_rates[version.pk] = (rule, time.monotonic(), found)
    return found


def disadvantaged_values(
    rows: list[tuple[Any, bool | None]], *, min_ratio: float, min_group_decisions: int
) -> set:
    """The groups whose favourable rate is below min_ratio of the best group's, among groups with
    at least min_group_decisions decisions (a rate of three decisions says nothing)."""
    totals, favourable = Counter(), Counter()
    for value, fav in rows:
        if value is None or fav is None:  # erased, or no favourable outcome
            continue
        totals[value] += 1
        favourable[value] += bool(fav)
    rates = {value: favourable[value] / n for value, n in totals.items() if n >= min_group_decisions}
    if len(rates) < 2:
        return set()
    best = max(rates.values())
    return {value for value, rate in rates.items() if rate < min_ratio * best}


# ---------------------------------------------------------------------------- after the fact
def referral_refer_flagged(*, version: ModelVersion, decision_ids: list, now: datetime) -> list[EventSpec]:
    """Refer, in the caller's transaction, those of these decisions still final and never
    reviewed: their explanation was flagged after they were recorded. Returns the DECISION_REFERRED
    events for the caller to write last."""
    rules = referral_rules_of(version)
    due = referral_due(rules, now)
    referable = (
        Decision.objects.select_for_update(of=("self",))
        .filter(pk__in=decision_ids, status=Decision.Status.FINAL, kind=Decision.Kind.AUTOMATED)
        .exclude(review_requests__closed_at__isnull=False)
        .exclude(superseded_by__isnull=False)
    )
    ids = list(referable.order_by("pk").values_list("pk", flat=True))
    Decision.objects.filter(pk__in=ids).update(
        status=Decision.Status.PENDING_REVIEW, referral_reasons=[FLAGGED_EXPLANATION], review_due_at=due
    )
    return [
        EventSpec(
            actor=Actor.system("referral"),
            action=Action.DECISION_REFERRED,
            object_type="decision",
            object_id=str(pk),
            data={"model_version": version.pk, "reasons": [FLAGGED_EXPLANATION], "due_at": due.isoformat()},
        )
        for pk in ids
    ]


def referral_settle(*, decision_id, changed: bool) -> bool:
    """A person decided on a referred decision, in the caller's transaction (which holds the lock
    on it): confirmed, it is final; changed, it is replaced by the person's decision. Only then does
    it take effect. False when the decision was not waiting for a person."""
    return bool(
        Decision.objects.filter(pk=decision_id, status=Decision.Status.PENDING_REVIEW).update(
            status=Decision.Status.REPLACED if changed else Decision.Status.FINAL
        )
    )
