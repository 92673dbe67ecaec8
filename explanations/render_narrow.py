"""The waterfall chart of explanations.render laid out for a narrow column, such as a phone's.

The wide layout is one viewBox scaled to its column: on a 320 px phone its 13 px text would be
drawn at 6 px. This one has no viewBox: it is as wide as its column, every x is a percentage of
that width and every y a pixel, so its text keeps its size at any width. Each factor's name and the
person's value get lines of their own above its bar, as there is no room beside it.

Plain Python: the caller passes the texts already translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

# About what fits on one line of the narrowest column (290 px) at 13 and 12 px; the table below
# the chart has every label in full.
LABEL_CHARS = 36
VALUE_CHARS = 40
# The plot runs between these percentages of the width, leaving room for a bar's arrow and a
# marker's dot at either end.
PLOT_FROM, PLOT_TO = 6.0, 94.0
LABEL_SIZE, SMALL_SIZE = 13, 12  # px, drawn at that size whatever the width
INSET = 8  # px between the texts and the chart's edges


@dataclass(frozen=True)
class NarrowRow:
    label: str
    value: str = ""
    start: float = 0.0
    end: float = 0.0
    marker: str = ""  # a dot at `start` with this text (where the model starts, the result); else a bar


@dataclass(frozen=True)
class NarrowChart:
    chart_id: str
    title: str
    desc: str
    away: str
    toward: str
    rows: tuple[NarrowRow, ...]
    low: float
    high: float
    threshold: float | None = None
    threshold_label: str = ""


def narrow_svg(chart: NarrowChart, *, toward: str, against: str, ink: str, muted: str) -> str:
    """The chart as an SVG as wide as its column; `toward` and `against` colour the bars."""

    def pct(v: float) -> float:
        return PLOT_FROM + (v - chart.low) / (chart.high - chart.low) * (PLOT_TO - PLOT_FROM)

    def x(v: float) -> str:
        return f"{pct(v):.2f}%"

    def text(x_at: str, y: float, content: str, *, size: int, fill: str, anchor: str = "start", dx: int = 0):
        shift = f' dx="{dx}"' if dx else ""
        return (
            f'<text x="{x_at}" y="{y:.0f}"{shift} font-size="{size}" fill="{fill}" text-anchor="{anchor}">'
            f"{escape(content)}</text>"
        )

    def beside(x_at: str, y: float, content: str, *, right: bool, gap: int) -> str:
        """A small text `gap` px to the right of x, or to its left."""
        anchor, dx = ("start", gap) if right else ("end", -gap)
        return text(x_at, y, content, size=SMALL_SIZE, fill=ink, anchor=anchor, dx=dx)

    def in_right_half(v: float) -> bool:
        return (v - chart.low) / (chart.high - chart.low) > 0.5

    body = [
        text(str(INSET), 16, chart.away, size=SMALL_SIZE, fill=muted),
        text("100%", 34, chart.toward, size=SMALL_SIZE, fill=muted, anchor="end", dx=-INSET),
    ]
    y = plot_top = 46
    for row in chart.rows:
        body.append(text(str(INSET), y + 14, _truncate(row.label, LABEL_CHARS), size=LABEL_SIZE, fill=ink))
        y += 19
        if row.value:
            body.append(
                text(str(INSET), y + 13, _truncate(row.value, VALUE_CHARS), size=SMALL_SIZE, fill=muted)
            )
            y += 17
        if row.marker:
            # The marker's text goes on the side with room, so it never runs off the chart.
            body.append(f'<circle cx="{x(row.start)}" cy="{y + 9}" r="5" fill="{ink}"/>')
            body.append(beside(x(row.start), y + 13, row.marker, right=not in_right_half(row.start), gap=9))
        else:
            low, high = sorted((row.start, row.end))
            width = max(pct(high) - pct(low), 0.5)
            positive = row.end >= row.start
            body.append(
                f'<rect x="{x(low)}" y="{y + 3}" width="{width:.2f}%" height="12" '
                f'fill="{toward if positive else against}" rx="2"/>'
            )
            arrow = "→" if positive else "←"
            body.append(beside(x(high if positive else low), y + 14, arrow, right=positive, gap=4))
        y += 18 + 10
    if chart.threshold is not None:
        at = x(chart.threshold)
        # Drawn first, so the texts it crosses are drawn over it.
        body.insert(
            2, f'<line x1="{at}" y1="{plot_top}" x2="{at}" y2="{y}" stroke="{muted}" stroke-dasharray="4 3"/>'
        )
        body.append(
            beside(at, y + 14, chart.threshold_label, right=not in_right_half(chart.threshold), gap=4)
        )
        y += 20
    title_id, desc_id = f"{chart.chart_id}-title", f"{chart.chart_id}-desc"
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="waterfall-narrow" width="100%" height="{y}" '
            f'role="img" aria-labelledby="{title_id} {desc_id}" focusable="false">',
            f'<title id="{title_id}">{escape(chart.title)}</title>',
            f'<desc id="{desc_id}">{escape(chart.desc)}</desc>',
            *body,
            "</svg>",
        ]
    )


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
