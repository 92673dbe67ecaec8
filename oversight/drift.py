"""Drift: how a model version's scores and inputs move from one time window to the next.

Counts are aggregated in the database per (window, bin), over the model's own (automated)
decisions: a person's decision on review is not the model's. The page draws them as server-side
SVG (charts.py).
The population stability index (PSI) of each window against the first one gives a single number
to watch: under 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a large one (common rule of
thumb in credit scoring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Avg, Count, FloatField, IntegerField, Max, Min, Q
from django.db.models.functions import Cast, Floor, Least, TruncDay, TruncMonth, TruncWeek
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from decisions.models import ModelVersion
from decisions.registry import schema_of
from decisions.schema import Feature

from .fairness import UNKNOWN, bands_for, group_expression, has_favourable, model_decisions

SCORE_BINS = 10
WINDOWS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
WINDOW_LABELS = {"day": gettext_lazy("Day"), "week": gettext_lazy("Week"), "month": gettext_lazy("Month")}
MAX_WINDOWS = 26  # the reference window and the latest ones: a page, not a year of days
PSI_MODERATE, PSI_LARGE = 0.1, 0.25
_EPSILON = 1e-4  # stands in for an empty bin so that the PSI stays finite


@dataclass(frozen=True)
class Window:
    start: datetime
    n: int
    shares: list[float]  # one per bin, summing to 1
    mean_score: float | None = None
    favourable_rate: float | None = None
    psi: float | None = None

    @property
    def shift(self) -> str:
        if self.psi is None:
            return ""
        return "large" if self.psi > PSI_LARGE else "moderate" if self.psi > PSI_MODERATE else "stable"


@dataclass(frozen=True)
class Distribution:
    title: str
    bins: list[str]
    windows: list[Window]
    ordered: bool = True  # the bins have an order (scores, bands), not categories
    omitted: int = 0  # windows between the reference and the latest ones, left out
    unknown: bool = False  # the last bin holds decisions without the value


def psi(expected: list[float], actual: list[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, _EPSILON), max(a, _EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def _with_psi(windows: list[Window]) -> list[Window]:
    if not windows:
        return windows
    reference = windows[0].shares
    return [
        Window(
            w.start,
            w.n,
            w.shares,
            w.mean_score,
            w.favourable_rate,
            None if i == 0 else psi(reference, w.shares),
        )
        for i, w in enumerate(windows)
    ]


def _recent(windows: list[Window]) -> tuple[list[Window], int]:
    """The reference (first) window and the latest ones, at most MAX_WINDOWS in all."""
    if len(windows) <= MAX_WINDOWS:
        return windows, 0
    return [windows[0], *windows[-(MAX_WINDOWS - 1) :]], len(windows) - MAX_WINDOWS


def default_window(version: ModelVersion) -> str:
    """The window that gives several to compare: months once the decisions span half a year,
    weeks once they span two weeks, days before that."""
    span = model_decisions(version).aggregate(first=Min("decided_at"), last=Max("decided_at"))
    if span["first"] is None:
        return "week"
    days = (span["last"] - span["first"]).days
    return "month" if days >= 183 else "week" if days >= 14 else "day"


def score_range(version: ModelVersion) -> tuple[float, float]:
    """The range the score bins span: a probability's 0-1, or for a regression the range of the
    version's recorded scores (the same bins for every window, so windows compare)."""
    if version.output.get("type") != "regression":
        return 0.0, 1.0
    bounds = model_decisions(version).aggregate(low=Min("score"), high=Max("score"))
    low, high = bounds["low"] or 0.0, bounds["high"] or 0.0
    return (low, high) if high > low else (low, low + 1.0)


def score_distribution(version: ModelVersion, *, window: str = "week") -> Distribution:
    trunc = WINDOWS[window]
    favourable = has_favourable(version)
    low, high = score_range(version)
    scaled = (Cast("score", FloatField()) - low) * (SCORE_BINS / (high - low))
    decisions = model_decisions(version).annotate(
        window=trunc("decided_at"),
        score_bin=Least(Cast(Floor(scaled), IntegerField()), SCORE_BINS - 1),
    )
    summary = {
        r["window"]: r
        for r in decisions.values("window")
        .annotate(n=Count("id"), mean=Avg("score"), fav=Count("id", filter=Q(favourable=True)))
        .order_by("window")
    }
    counts: dict = {}
    for r in decisions.values("window", "score_bin").annotate(n=Count("id")).order_by("window", "score_bin"):
        counts.setdefault(r["window"], [0] * SCORE_BINS)[max(0, int(r["score_bin"]))] += r["n"]
    windows = [
        Window(
            start=start,
            n=row["n"],
            shares=[c / row["n"] for c in counts.get(start, [0] * SCORE_BINS)],
            mean_score=row["mean"],
            favourable_rate=row["fav"] / row["n"] if favourable else None,
        )
        for start, row in summary.items()
    ]
    step = (high - low) / SCORE_BINS
    labels = [f"{low + i * step:.3g}-{low + (i + 1) * step:.3g}" for i in range(SCORE_BINS)]
    shown, omitted = _recent(_with_psi(windows))
    return Distribution(_("Score"), labels, shown, ordered=True, omitted=omitted)


def feature_distribution(version: ModelVersion, feature: Feature, *, window: str = "week") -> Distribution:
    trunc = WINDOWS[window]
    decisions = (
        model_decisions(version)
        .filter(personal_data_erased_at__isnull=True)
        .annotate(window=trunc("decided_at"))
    )
    expression = group_expression(feature)
    if isinstance(expression, tuple):
        number, bands = expression
        decisions = decisions.annotate(grp_number=number).annotate(grp=bands)
        bins = [band.key for band in bands_for(feature)]
        labels = [band.label for band in bands_for(feature)]
    else:
        decisions = decisions.annotate(grp=expression)
        bins = [c.value for c in feature.categories]
        labels = [c.label for c in feature.categories]
    per_window: dict = {}
    for r in decisions.values("window", "grp").annotate(n=Count("id")).order_by("window"):
        grp = UNKNOWN if r["grp"] is None else r["grp"]
        per_window.setdefault(r["window"], {})[grp] = r["n"]
    if any(UNKNOWN in counts for counts in per_window.values()):
        bins, labels = [*bins, UNKNOWN], [*labels, _("not recorded")]
    windows = []
    for start, counts in per_window.items():
        n = sum(counts.values())
        windows.append(Window(start=start, n=n, shares=[counts.get(b, 0) / n for b in bins]))
    shown, omitted = _recent(_with_psi(windows))
    return Distribution(
        feature.label,
        labels,
        shown,
        ordered=feature.type == "numeric",
        omitted=omitted,
        unknown=bins[-1] == UNKNOWN,
    )


def drift_features(version: ModelVersion) -> list[Feature]:
    schema = schema_of(version)
    return [f for f in schema.features if f.type in ("categorical", "numeric")]
