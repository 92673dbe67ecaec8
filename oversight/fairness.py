"""Fairness figures of a model version: outcome rates by protected group, the disparate-impact
ratio against the most favoured group (the US EEOC four-fifths rule as a flag, not a verdict),
and the share of SHAP attribution carried by protected features.

Groups come from the features the schema marks `protected`: a categorical feature groups by its
categories; a numeric one by bands (age: under 25, 25-34, 35-49, 50 and over; anything else four
equal-width bands of its declared range). Only decisions whose inputs are still held count:
retention erases the features that place a decision in a group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Case, CharField, Count, FloatField, Q, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from decisions.models import Decision, ModelVersion
from decisions.registry import schema_of
from decisions.schema import Feature
from explanations.models import Explanation

FOUR_FIFTHS = 0.8
SMALL_GROUP = 30  # below this a group's rate is too noisy to read much into
AGE_BANDS: tuple[tuple[float | None, float | None, str], ...] = (
    (None, 25, "under 25"),
    (25, 35, "25-34"),
    (35, 50, "35-49"),
    (50, None, "50 and over"),
)


@dataclass(frozen=True)
class GroupRate:
    value: str
    label: str
    n: int
    favourable: int
    rate: float | None
    impact_ratio: float | None = None

    @property
    def below_four_fifths(self) -> bool:
        return self.impact_ratio is not None and self.impact_ratio < FOUR_FIFTHS

    @property
    def small(self) -> bool:
        return self.n < SMALL_GROUP


@dataclass(frozen=True)
class AttributeFairness:
    feature: str
    label: str
    groups: list[GroupRate]
    most_favoured: str | None
    min_impact_ratio: float | None

    @property
    def flagged(self) -> bool:
        return any(g.below_four_fifths for g in self.groups)


@dataclass(frozen=True)
class AttributionShare:
    explained_decisions: int
    total_abs: float
    protected_abs: float
    by_feature: dict[str, float] = field(default_factory=dict)  # feature -> share of total |SHAP|

    @property
    def protected_share(self) -> float | None:
        return self.protected_abs / self.total_abs if self.total_abs else None


def bands_for(feature: Feature) -> tuple[tuple[float | None, float | None, str], ...]:
    if feature.name.startswith("age") or feature.name.endswith("_age"):
        return AGE_BANDS
    low, high = feature.minimum, feature.maximum
    if low is None or high is None or high <= low:
        return ((None, None, "all"),)
    step = (high - low) / 4
    edges = [low + step * i for i in range(1, 4)]
    out: list[tuple[float | None, float | None, str]] = []
    previous: float | None = None
    for edge in [*edges, None]:
        label = (
            f"under {edge:g}"
            if previous is None
            else f"{previous:g} and over"
            if edge is None
            else f"{previous:g} to under {edge:g}"
        )
        out.append((previous, edge, label))
        previous = edge
    return tuple(out)


def group_expression(feature: Feature):
    key = KT(f"features__{feature.name}")
    if feature.type == "categorical":
        return key
    number = Cast(key, FloatField())
    whens = []
    for low, high, label in bands_for(feature):
        condition = Q()
        if low is not None:
            condition &= Q(grp_number__gte=low)
        if high is not None:
            condition &= Q(grp_number__lt=high)
        whens.append(When(condition, then=Value(label)))
    return number, Case(*whens, default=Value("unknown"), output_field=CharField())


def group_rates(version: ModelVersion, feature: Feature) -> AttributeFairness:
    decisions = Decision.objects.filter(model_version=version, personal_data_erased_at__isnull=True)
    expression = group_expression(feature)
    if isinstance(expression, tuple):
        number, bands = expression
        decisions = decisions.annotate(grp_number=number).annotate(grp=bands)
        order = [label for _, _, label in bands_for(feature)]
        labels = {label: label for label in order}
    else:
        decisions = decisions.annotate(grp=expression)
        order = [c.value for c in feature.categories]
        labels = {c.value: c.label for c in feature.categories}
    rows = {
        r["grp"]: r
        for r in decisions.values("grp")
        .annotate(n=Count("id"), favourable=Count("id", filter=Q(favourable=True)))
        .order_by("grp")
    }
    order += sorted(str(g) for g in rows if g not in labels)
    raw = []
    for value in order:
        row = rows.get(value)
        n = row["n"] if row else 0
        favourable = row["favourable"] if row else 0
        raw.append((value, labels.get(value, str(value)), n, favourable, favourable / n if n else None))
    rated = [r for r in raw if r[4] is not None]
    best = max(rated, key=lambda r: r[4]) if rated else None
    groups = [
        GroupRate(
            value=str(value),
            label=label,
            n=n,
            favourable=favourable,
            rate=rate,
            impact_ratio=(rate / best[4]) if rate is not None and best and best[4] else None,
        )
        for value, label, n, favourable, rate in raw
    ]
    ratios = [g.impact_ratio for g in groups if g.impact_ratio is not None]
    return AttributeFairness(
        feature=feature.name,
        label=feature.label,
        groups=groups,
        most_favoured=best[1] if best else None,
        min_impact_ratio=min(ratios) if ratios else None,
    )


def protected_features(version: ModelVersion) -> list[Feature]:
    schema = schema_of(version)
    return [f for f in schema.features if f.protected and f.type in ("categorical", "numeric")]


def fairness_by_group(version: ModelVersion) -> list[AttributeFairness]:
    return [group_rates(version, f) for f in protected_features(version)]


def attribution_share(version: ModelVersion) -> AttributionShare:
    """Share of total |SHAP| over the version's explained decisions carried by protected features."""
    protected = {f.name for f in protected_features(version)}
    totals: dict[str, float] = {}
    count = 0
    rows = (
        Explanation.objects.filter(model_version=version, is_current=True, status="done")
        .values_list("contributions", flat=True)
        .iterator(chunk_size=2000)
    )
    for contributions in rows:
        count += 1
        for feature, value in contributions.items():
            totals[feature] = totals.get(feature, 0.0) + abs(value)
    total = sum(totals.values())
    protected_abs = sum(v for k, v in totals.items() if k in protected)
    return AttributionShare(
        explained_decisions=count,
        total_abs=total,
        protected_abs=protected_abs,
        by_feature={k: totals[k] / total for k in sorted(protected) if total and k in totals},
    )


def fairness_report(version: ModelVersion) -> dict:
    attributes = fairness_by_group(version)
    return {
        "decisions_with_data": Decision.objects.filter(
            model_version=version, personal_data_erased_at__isnull=True
        ).count(),
        "attributes": attributes,
        "attribution": attribution_share(version),
        "four_fifths": FOUR_FIFTHS,
        "small_group": SMALL_GROUP,
    }
