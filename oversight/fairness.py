"""Fairness figures of a model version: outcome rates by protected group, the disparate-impact
ratio against the most favoured group (the US EEOC four-fifths rule as a flag, not a verdict),
and the share of SHAP attribution carried by protected features.

Groups come from the features the schema marks `protected`: a categorical feature groups by its
categories; a numeric one by bands (age: under 25, 25-34, 35-49, 50 and over; anything else four
equal-width bands of its declared range). Only the model's own (automated) decisions whose
inputs are still held count: a person's decision on review is not the model's, and retention
erases the features that place a decision in a group. A protected attribute counts whether the
model takes it as an input or only records it for monitoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Case, CharField, Count, FloatField, Q, QuerySet, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from decisions.models import Decision, ModelVersion
from decisions.predictors.base import favourable_label
from decisions.registry import schema_of
from decisions.schema import Feature
from explanations.models import Explanation

FOUR_FIFTHS = 0.8
SMALL_GROUP = 30  # below this a group's rate is too noisy to read much into
UNKNOWN = "unknown"  # the group of a decision whose value is missing
AGE_EDGES = (25, 35, 50)


@dataclass(frozen=True)
class Band:
    low: float | None
    high: float | None  # exclusive
    key: str  # what the database groups by; stable, so figures compare across languages
    label: str


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
    monitored: bool = False  # recorded for the fairness views only, not a model input

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


def model_decisions(version: ModelVersion) -> QuerySet[Decision]:
    """The decisions the model took itself: the figures of a model are of these alone."""
    return Decision.objects.filter(model_version=version, kind=Decision.Kind.AUTOMATED)


def has_favourable(version: ModelVersion) -> bool:
    """Whether the version names a favourable outcome (a multiclass reader may name none)."""
    return favourable_label(version.output) is not None


def bands_for(feature: Feature) -> tuple[Band, ...]:
    if feature.name.startswith("age") or feature.name.endswith("_age"):
        edges: list[float] = list(AGE_EDGES)
        whole = True  # ages are whole years: 25 to 34, not 25 to under 35
    else:
        low, high = feature.minimum, feature.maximum
        if low is None or high is None or high <= low:
            return (Band(None, None, "all", _("all")),)
        step = (high - low) / 4
        edges = [low + step * i for i in range(1, 4)]
        whole = False
    out: list[Band] = []
    previous: float | None = None
    for edge in [*edges, None]:
        if previous is None:
            key, label = f"under {edge:g}", _("under %(edge)s") % {"edge": f"{edge:g}"}
        elif edge is None:
            key, label = f"{previous:g} and over", _("%(edge)s and over") % {"edge": f"{previous:g}"}
        elif whole:
            values = {"low": f"{previous:g}", "high": f"{edge - 1:g}"}
            key, label = "{low}-{high}".format(**values), _("%(low)s to %(high)s") % values
        else:
            values = {"low": f"{previous:g}", "high": f"{edge:g}"}
            key = "{low} to under {high}".format(**values)
            label = _("%(low)s to under %(high)s") % values
        out.append(Band(previous, edge, key, label))
        previous = edge
    return tuple(out)


def group_expression(feature: Feature):
    key = KT(f"features__{feature.name}")
    if feature.type == "categorical":
        return key
    number = Cast(key, FloatField())
    whens = []
    for band in bands_for(feature):
        condition = Q()
        if band.low is not None:
            condition &= Q(grp_number__gte=band.low)
        if band.high is not None:
            condition &= Q(grp_number__lt=band.high)
        whens.append(When(condition, then=Value(band.key)))
    return number, Case(*whens, default=Value(UNKNOWN), output_field=CharField())


def group_rates(version: ModelVersion, feature: Feature) -> AttributeFairness:
    decisions = model_decisions(version).filter(personal_data_erased_at__isnull=True)
    expression = group_expression(feature)
    if isinstance(expression, tuple):
        number, bands = expression
        decisions = decisions.annotate(grp_number=number).annotate(grp=bands)
        order = [band.key for band in bands_for(feature)]
        labels = {band.key: band.label for band in bands_for(feature)}
    else:
        decisions = decisions.annotate(grp=expression)
        order = [c.value for c in feature.categories]
        labels = {c.value: c.label for c in feature.categories}
    rows = {
        UNKNOWN if r["grp"] is None else r["grp"]: r
        for r in decisions.values("grp")
        .annotate(n=Count("id"), favourable=Count("id", filter=Q(favourable=True)))
        .order_by("grp")
    }
    labels[UNKNOWN] = _("not recorded")
    order += sorted(str(g) for g in rows if g not in order)
    raw = []
    for value in order:
        row = rows.get(value)
        n = row["n"] if row else 0
        favourable = row["favourable"] if row else 0
        raw.append((value, labels.get(value, str(value)), n, favourable, favourable / n if n else None))
    # A decision without the value is in no group to compare: it is shown, never the reference.
    rated = [r for r in raw if r[4] is not None and r[0] != UNKNOWN]
    best = max(rated, key=lambda r: r[4]) if rated else None
    groups = [
        GroupRate(
            value=str(value),
            label=label,
            n=n,
            favourable=favourable,
            rate=rate,
            impact_ratio=(rate / best[4])
            if rate is not None and best and best[4] and value != UNKNOWN
            else None,
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
        monitored=feature.monitored,
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
    share = attribution_share(version)
    return {
        "has_favourable": has_favourable(version),
        "decisions_with_data": model_decisions(version).filter(personal_data_erased_at__isnull=True).count(),
        "attributes": attributes,
        "attribution": share,
        # Every protected attribute, by its label; one the model only monitors is no input, so no
        # explanation attributes anything to it.
        "attribution_rows": [
            {
                "feature": f.name,
                "label": f.label,
                "share": share.by_feature.get(f.name),
                "monitored": f.monitored,
            }
            for f in protected_features(version)
        ],
        "four_fifths": FOUR_FIFTHS,
        "small_group": SMALL_GROUP,
    }
