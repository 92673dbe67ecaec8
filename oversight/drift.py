"""Drift: how a model version's scores and inputs move from one time window to the next.

Counts are aggregated in the database per (window, bin); the page draws them as server-side SVG.
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

from decisions.models import Decision, ModelVersion
from decisions.registry import schema_of
from decisions.schema import Feature

from .fairness import bands_for, group_expression

SCORE_BINS = 10
WINDOWS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
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


def score_range(version: ModelVersion) -> tuple[float, float]:
    """The range the score bins span: a probability's 0-1, or for a regression the range of the
    version's recorded scores (the same bins for every window, so windows compare)."""
    if version.output.get("type") != "regression":
        return 0.0, 1.0
    bounds = Decision.objects.filter(model_version=version).aggregate(low=Min("score"), high=Max("score"))
    low, high = bounds["low"] or 0.0, bounds["high"] or 0.0
    return (low, high) if high > low else (low, low + 1.0)


def score_distribution(version: ModelVersion, *, window: str = "week") -> Distribution:
    trunc = WINDOWS[window]
    low, high = score_range(version)
    scaled = (Cast("score", FloatField()) - low) * (SCORE_BINS / (high - low))
    decisions = Decision.objects.filter(model_version=version).annotate(
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
            favourable_rate=row["fav"] / row["n"],
        )
        for start, row in summary.items()
    ]
    step = (high - low) / SCORE_BINS
    labels = [f"{low + i * step:.3g}-{low + (i + 1) * step:.3g}" for i in range(SCORE_BINS)]
    return Distribution("Score", labels, _with_psi(windows))


def feature_distribution(version: ModelVersion, feature: Feature, *, window: str = "week") -> Distribution:
    trunc = WINDOWS[window]
    decisions = Decision.objects.filter(model_version=version, personal_data_erased_at__isnull=True).annotate(
        window=trunc("decided_at")
    )
    expression = group_expression(feature)
    if isinstance(expression, tuple):
        number, bands = expression
        decisions = decisions.annotate(grp_number=number).annotate(grp=bands)
        bins = [label for _, _, label in bands_for(feature)]
        labels = bins
    else:
        decisions = decisions.annotate(grp=expression)
        bins = [c.value for c in feature.categories]
        labels = [c.label for c in feature.categories]
    per_window: dict = {}
    for r in decisions.values("window", "grp").annotate(n=Count("id")).order_by("window"):
        per_window.setdefault(r["window"], {})[r["grp"]] = r["n"]
    windows = []
    for start, counts in per_window.items():
        n = sum(counts.values())
        windows.append(Window(start=start, n=n, shares=[counts.get(b, 0) / n for b in bins]))
    return Distribution(feature.label, labels, _with_psi(windows))


def drift_features(version: ModelVersion) -> list[Feature]:
    schema = schema_of(version)
    return [f for f in schema.features if f.type in ("categorical", "numeric")]


# ---------------------------------------------------------------------------- drawing
BAR_W, BAR_GAP, ROW_H = 14, 2, 40


def svg_rows(distribution: Distribution) -> dict:
    """Geometry for one small bar chart per window (heights in SVG units, 0..ROW_H-4)."""
    width = len(distribution.bins) * (BAR_W + BAR_GAP)
    rows = []
    for window in distribution.windows:
        peak = max(window.shares) or 1.0
        bars = []
        for i, (share, label) in enumerate(zip(window.shares, distribution.bins, strict=True)):
            h = (ROW_H - 4) * share / peak
            bars.append(
                {
                    "x": i * (BAR_W + BAR_GAP),
                    "y": ROW_H - h,
                    "w": BAR_W,
                    "h": h,
                    "share": share,
                    "label": label,
                }
            )
        rows.append({"window": window, "bars": bars})
    return {"width": width, "height": ROW_H, "rows": rows}
