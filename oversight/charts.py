"""The auditor's charts, drawn on the server as inline SVG: bars (fairness rates with the
four-fifths line, global importance) and stacked bars (drift, one bar per time window).

No JavaScript (the Content-Security-Policy allows none inline) and no viewBox: horizontal
positions are percentages of the chart's width and vertical ones are pixels, so a chart takes the
width of the page while its text keeps its size, 13 px, on a phone as on a desktop (a scaled
viewBox would shrink it). Every chart has role="img", a <title> and a <desc>; the page gives the
same figures in a table. What a colour says is also said in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.formats import date_format, number_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

FONT = 13  # px, at every width
SMALL_FONT = 12
ROW_H = 46  # a label line, then the bar
BAR_H = 20
BAR = "#1f5fa8"  # blue
WARN = "#b4420b"  # orange: a bar that needs a closer look (both pass 4.5:1 with white text)
INK = "#1d2430"
MUTED = "#5b6472"
GRID = "#d7dce3"
UNKNOWN_GREY = "#9aa3ad"
HALO = 'stroke="#ffffff" stroke-width="4" paint-order="stroke"'  # keeps a label legible over a line
INSIDE = 0.6  # a bar longer than this share of the width carries its figure inside
LABEL_CHARS = 46  # what fits on one line of a 340 px wide chart
# Okabe and Ito's palette: told apart with every common colour-vision deficiency.
CATEGORY_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
ORDERED_LIGHT, ORDERED_DARK = (198, 219, 239), (8, 48, 107)  # light to dark blue, for ordered bins


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # share of the axis, 0..1; None draws no bar
    text: str  # the figure written at the end of the bar
    note: str = ""  # said after the label, so that nothing rests on colour alone
    warn: bool = False


@dataclass(frozen=True)
class Segment:
    label: str
    share: float  # 0..1 of the row
    colour: str


@dataclass(frozen=True)
class StackedRow:
    label: str
    aside: str  # right-aligned on the label line
    segments: tuple[Segment, ...]
    emphasis: str = ""  # "warn" or "strong": how the aside is set


def _emphasis(kind: str) -> str:
    if kind == "warn":
        return f'fill="{WARN}" font-weight="bold"'
    if kind == "strong":
        return f'fill="{INK}" font-weight="bold"'
    return f'fill="{INK}"'


def truncate(text: str, n: int = LABEL_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def pct(x: float, decimals: int | None = None) -> str:
    """A share as a percentage in the reader's number format: 0.533 -> 53.3% (53,3 % in German)."""
    if decimals is None:
        decimals = 0 if x in (0.0, 1.0) else 1
    return _("%(number)s%%") % {"number": number_format(100 * x, decimals)}


def count(n: int) -> str:
    return number_format(n, force_grouping=True)


def significant(x: float, digits: int = 3) -> str:
    """x to `digits` significant figures, in the reader's number format (1.23e-05 stays so)."""
    text = f"{x:.{digits}g}"
    if "e" in text:
        return number_format(round(x), 0, force_grouping=True) if abs(x) >= 1 else text
    decimals = len(text.split(".")[1]) if "." in text else 0
    return number_format(float(text), decimals, force_grouping=True)


def _open(chart_id: str, height: float, title: str, desc: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="{height:.0f}" role="img" '
        f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" focusable="false" '
        f'font-size="{FONT}" id="{chart_id}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )


def _at(share: float) -> str:
    return f"{100 * min(max(share, 0.0), 1.0):.2f}%"


def bar_chart(
    bars: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    desc: str,
    line: tuple[float, str] | None = None,
    ticks: Sequence[tuple[float, str]] = (),
) -> SafeString:
    """One bar per row under its label. `line` is a dashed vertical line (its place on the axis and
    what it means, said in a key at the top); `ticks` label the axis below."""
    top = 26 if line else 4
    plot_bottom = top + len(bars) * ROW_H
    height = plot_bottom + (26 if ticks else 6)
    parts = [_open(chart_id, height, title, desc)]
    for share, _text in ticks:
        parts.append(
            f'<line x1="{_at(share)}" x2="{_at(share)}" y1="{top}" y2="{plot_bottom}" stroke="{GRID}"/>'
        )
    for i, bar in enumerate(bars):
        y = top + i * ROW_H
        label = truncate(bar.label, LABEL_CHARS - len(bar.note) - 3 if bar.note else LABEL_CHARS)
        note = f' <tspan font-weight="bold">— {escape(bar.note)}</tspan>' if bar.note else ""
        parts.append(f'<text x="0" y="{y + 15}" fill="{INK}" {HALO}>{escape(label)}{note}</text>')
        bar_y = y + 21
        if bar.value is None:
            parts.append(
                f'<text x="0" y="{bar_y + 14}" fill="{MUTED}" font-size="{SMALL_FONT}">{escape(bar.text)}</text>'
            )
            continue
        colour = WARN if bar.warn else BAR
        parts.append(
            f'<rect x="0" y="{bar_y}" width="{_at(bar.value)}" height="{BAR_H}" fill="{colour}">'
            f"<title>{escape(bar.label)}: {escape(bar.text)}</title></rect>"
        )
        inside = bar.value > INSIDE
        dx, anchor, style = (
            ("-6", "end", 'fill="#ffffff"') if inside else ("6", "start", f'fill="{INK}" {HALO}')
        )
        parts.append(
            f'<text x="{_at(bar.value)}" dx="{dx}" y="{bar_y + 15}" text-anchor="{anchor}" {style}>'
            f"{escape(bar.text)}</text>"
        )
    if line is not None:
        share, meaning = line
        dash = 'stroke-dasharray="5 3" stroke-width="2"'
        parts.append(
            f'<line x1="{_at(share)}" x2="{_at(share)}" y1="{top - 4}" y2="{plot_bottom}" stroke="{INK}" {dash}/>'
            f'<line x1="0" x2="22" y1="11" y2="11" stroke="{INK}" {dash}/>'
            f'<text x="28" y="15" fill="{INK}">{escape(meaning)}</text>'
        )
    if ticks:
        parts.append(f'<line x1="0" x2="100%" y1="{plot_bottom}" y2="{plot_bottom}" stroke="{MUTED}"/>')
        for share, text in ticks:
            anchor = "start" if share <= 0 else "end" if share >= 1 else "middle"
            parts.append(
                f'<text x="{_at(share)}" y="{plot_bottom + 18}" text-anchor="{anchor}" fill="{MUTED}" '
                f'font-size="{SMALL_FONT}">{escape(text)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def stacked_chart(rows: Sequence[StackedRow], *, chart_id: str, title: str, desc: str) -> SafeString:
    """One full-width bar per row, split into its segments' shares, under a label line."""
    height = len(rows) * ROW_H + 6
    parts = [_open(chart_id, height, title, desc)]
    for i, row in enumerate(rows):
        y = i * ROW_H + 4
        parts.append(f'<text x="0" y="{y + 15}" fill="{INK}">{escape(truncate(row.label, 28))}</text>')
        parts.append(
            f'<text x="100%" y="{y + 15}" text-anchor="end" {_emphasis(row.emphasis)}>{escape(row.aside)}</text>'
        )
        start = 0.0
        for segment in row.segments:
            if segment.share <= 0:
                continue
            parts.append(
                f'<rect x="{_at(start)}" y="{y + 21}" width="{_at(segment.share)}" height="{BAR_H}" '
                f'fill="{segment.colour}" stroke="#ffffff" stroke-width="1">'
                f"<title>{escape(segment.label)}: {escape(pct(segment.share))}</title></rect>"
            )
            start += segment.share
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def palette(n: int, *, ordered: bool) -> list[str]:
    """n colours: light to dark blue for ordered bins (scores, bands), distinct hues otherwise."""
    if not ordered:
        return [CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i in range(n)]
    out = []
    for i in range(n):
        t = i / (n - 1) if n > 1 else 1.0
        r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(ORDERED_LIGHT, ORDERED_DARK, strict=True))
        out.append(f"#{r:02x}{g:02x}{b:02x}")
    return out


# ---------------------------------------------------------------------------- the auditor's charts
def fairness_chart(attribute, *, four_fifths: float, chart_id: str) -> SafeString | None:
    """Favourable rate per group of one protected attribute, with four-fifths of the highest rate
    as a dashed line: a bar ending left of it is below four-fifths."""
    rated = [g.rate for g in attribute.groups if g.rate is not None]
    if not rated:
        return None
    best = max(rated)
    bars = []
    for g in attribute.groups:
        if g.rate is None:
            bars.append(Bar(g.label, None, _("no decisions")))
            continue
        note = _("below four-fifths") if g.below_four_fifths else _("small group") if g.small else ""
        text = _("%(rate)s of %(n)s") % {"rate": pct(g.rate), "n": count(g.n)}
        bars.append(Bar(g.label, g.rate, text, note=note, warn=g.below_four_fifths))
    line = (
        four_fifths * best,
        _("four-fifths of the highest rate: %(rate)s") % {"rate": pct(four_fifths * best)},
    )
    return bar_chart(
        bars,
        chart_id=chart_id,
        title=_("Favourable rate by %(attribute)s") % {"attribute": attribute.label},
        desc=_(
            "One bar per group: the share of its decisions that were favourable. The dashed line is "
            "four-fifths of the highest group's rate; a bar ending left of it is below four-fifths. "
            "The table below gives the same figures."
        ),
        line=line,
        ticks=[(share, pct(share, 0)) for share in (0.0, 0.25, 0.5, 0.75, 1.0)],
    )


def importance_chart(features: list[dict], *, chart_id: str, limit: int = 12) -> SafeString | None:
    """Mean |SHAP| per feature, largest first, as bars relative to the largest."""
    shown = features[:limit]
    if not shown:
        return None
    peak = shown[0]["mean_abs_contribution"] or 1.0
    bars = [
        Bar(f["label"], f["mean_abs_contribution"] / peak, significant(f["mean_abs_contribution"]))
        for f in shown
    ]
    desc = _(
        "One bar per feature, largest first: how much it moved the model's output on average, in either "
        "direction (mean absolute SHAP contribution). The table below gives the same figures."
    )
    if len(features) > limit:
        desc += " " + _("The chart shows the %(n)s largest; the table has them all.") % {"n": limit}
    return bar_chart(bars, chart_id=chart_id, title=_("Global feature importance"), desc=desc)


def window_label(start, window: str) -> str:
    if window == "month":
        return date_format(start, "YEAR_MONTH_FORMAT")
    day = date_format(start, "SHORT_DATE_FORMAT")
    return _("week of %(day)s") % {"day": day} if window == "week" else day


def shift_text(window, *, short: bool = False) -> str:
    """The window's PSI against the first in words; `short` for a chart's row on a phone."""
    if window.psi is None:
        return _("reference")
    psi = number_format(window.psi, 2)
    if short:
        words = {
            "stable": _("PSI %(psi)s, stable"),
            "moderate": _("PSI %(psi)s, moderate"),
            "large": _("PSI %(psi)s, large"),
        }
        return words[window.shift] % {"psi": psi}
    words = {"stable": _("stable"), "moderate": _("moderate shift"), "large": _("large shift")}
    return _("PSI %(psi)s, %(shift)s") % {"psi": psi, "shift": words[window.shift]}


def drift_colours(distribution) -> list[str]:
    """A colour per bin: ordered bins light to dark, categories distinct, "not recorded" grey."""
    known = len(distribution.bins) - distribution.unknown
    return palette(known, ordered=distribution.ordered) + ([UNKNOWN_GREY] if distribution.unknown else [])


def drift_chart(distribution, window: str, *, chart_id: str) -> SafeString | None:
    """One stacked bar per window, oldest first: its decisions' shares across the bins, with the
    window's PSI against the first in words."""
    if not distribution.windows:
        return None
    colours = drift_colours(distribution)
    rows = [
        StackedRow(
            _("%(window)s (%(n)s)") % {"window": window_label(w.start, window), "n": count(w.n)},
            shift_text(w, short=True),
            tuple(
                Segment(label, share, colour)
                for label, share, colour in zip(distribution.bins, w.shares, colours, strict=True)
            ),
            {"large": "warn", "moderate": "strong"}.get(w.shift, ""),
        )
        for w in distribution.windows
    ]
    return stacked_chart(
        rows,
        chart_id=chart_id,
        title=_("%(what)s by window") % {"what": distribution.title},
        desc=_(
            "One bar per time window, oldest first, with its number of decisions in brackets: how its "
            "decisions spread across the bins, in the order of the key. PSI compares each window with "
            "the first: under 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a large one. The "
            "table below gives the same figures."
        ),
    )


def drift_figure(distribution, window: str, *, chart_id: str) -> dict:
    """What the drift page shows of one distribution: the chart, its key (bin, colour) and the
    same figures as table rows."""
    return {
        "distribution": distribution,
        "chart": drift_chart(distribution, window, chart_id=chart_id),
        "key": list(zip(distribution.bins, drift_colours(distribution), strict=True)),
        "rows": [
            {
                "label": window_label(w.start, window),
                "window": w,
                "shift": shift_text(w),
                "shares": list(zip(distribution.bins, w.shares, strict=True)),
            }
            for w in distribution.windows
        ],
    }
