"""Server-side charts of an explanation, as inline SVG with a text alternative.

No JavaScript and nothing fetched: the subject's page must work in any browser, and a screen
reader gets the same facts from the table every chart comes with. Direction is shown by an arrow
and a word as well as by colour, so nothing depends on telling colours apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

import numpy as np
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from decisions.registry import predictor_for, schema_of

MAX_BARS = 8
TOWARD = "#1f5fa8"  # blue: toward the positive class / the decided class
AGAINST = "#b4420b"  # orange: against it (both pass 4.5:1 on white)
INK = "#1d2430"
MUTED = "#5b6472"


@dataclass(frozen=True)
class Step:
    label: str
    value: str
    contribution: float
    start: float
    end: float


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def to_probability(value: float, output_space: str) -> float | None:
    if output_space == "log_odds":
        return 1.0 / (1.0 + math.exp(-value))
    if output_space == "probability":
        return value
    return None


def waterfall_steps(contributions: list[dict], base_value: float, max_bars: int = MAX_BARS) -> list[Step]:
    """Largest effects first, the rest summed into one step, from the base value to the result."""
    ordered = sorted(contributions, key=lambda c: -abs(c["contribution"]))
    shown, rest = ordered[:max_bars], ordered[max_bars:]
    steps = []
    running = float(base_value)
    for c in shown:
        end = running + float(c["contribution"])
        steps.append(Step(c["label"], c.get("display_value", ""), float(c["contribution"]), running, end))
        running = end
    if rest:
        total = float(sum(c["contribution"] for c in rest))
        steps.append(
            Step(
                _("%(count)s other factors together") % {"count": len(rest)},
                "",
                total,
                running,
                running + total,
            )
        )
    return steps


def waterfall_svg(explanation, decision, *, chart_id: str = "why-chart") -> dict:
    """The explanation as a waterfall: where the model starts (the average case) and how each of
    the person's values moved it to the result. Returns {"svg": SafeString, "rows": [...], ...}
    where rows are the text alternative the template shows as a table."""
    output = decision.model_version.output
    positive = output["class_labels"][1] if output["type"] == "binary" else decision.outcome
    contributions = explanation.labelled_contributions
    steps = waterfall_steps(contributions, explanation.base_value)
    final = explanation.base_value + sum(float(c["contribution"]) for c in contributions)
    points = [explanation.base_value, final] + [s.start for s in steps] + [s.end for s in steps]
    if output["type"] == "binary" and output.get("threshold") is not None:
        threshold = float(output["threshold"])
        if explanation.output_space == "log_odds":
            threshold = math.log(threshold / (1 - threshold))
        points.append(threshold)
    else:
        threshold = None
    low, high = min(points), max(points)
    pad = (high - low) * 0.05 or 1.0
    low, high = low - pad, high + pad

    label_w, plot_w, row_h, top = 300, 380, 30, 34
    width = label_w + plot_w + 20
    n_rows = len(steps) + 2
    height = top + n_rows * row_h + 34

    def x(v: float) -> float:
        return label_w + (v - low) / (high - low) * plot_w

    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    start_p = to_probability(explanation.base_value, explanation.output_space)
    end_p = to_probability(final, explanation.output_space)
    desc = _(
        "Bars pointing right pushed toward “%(positive)s”, bars pointing left pushed away from it. "
        "The table below gives the same information."
    ) % {"positive": positive}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="waterfall" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{title_id} {desc_id}" focusable="false">',
        f'<title id="{title_id}">{escape(_("How each of your details moved the result"))}</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
        f'<text x="{label_w}" y="18" font-size="13" fill="{MUTED}">'
        f"{escape(_('← away from “%(positive)s”') % {'positive': positive})}</text>",
        f'<text x="{label_w + plot_w}" y="18" font-size="13" fill="{MUTED}" text-anchor="end">'
        f"{escape(_('toward “%(positive)s” →') % {'positive': positive})}</text>",
    ]
    if threshold is not None:
        tx = x(threshold)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{top + n_rows * row_h}" '
            f'stroke="{INK}" stroke-dasharray="4 3"/>'
            f'<text x="{tx + 4:.1f}" y="{top + n_rows * row_h + 16}" font-size="12" fill="{INK}">'
            f"{escape(_('decision line'))}</text>"
        )

    def row_label(i: int, text: str, sub: str = "") -> str:
        y = top + i * row_h + row_h / 2
        out = (
            f'<text x="{label_w - 8}" y="{y - (3 if sub else -4):.1f}" font-size="13" fill="{INK}" '
            f'text-anchor="end">{escape(_truncate(text, 40))}</text>'
        )
        if sub:
            out += (
                f'<text x="{label_w - 8}" y="{y + 11:.1f}" font-size="11" fill="{MUTED}" '
                f'text-anchor="end">{escape(_truncate(sub, 46))}</text>'
            )
        return out

    def marker(i: int, value: float, text: str) -> str:
        y = top + i * row_h + row_h / 2
        # Label on the side with room, so it never runs off the chart.
        right_half = x(value) > label_w + plot_w / 2
        tx, anchor = (x(value) - 9, "end") if right_half else (x(value) + 9, "start")
        return (
            f'<circle cx="{x(value):.1f}" cy="{y:.1f}" r="5" fill="{INK}"/>'
            f'<text x="{tx:.1f}" y="{y + 4:.1f}" font-size="12" fill="{INK}" text-anchor="{anchor}">'
            f"{escape(text)}</text>"
        )

    start_text = _("average case") + (f" ({start_p:.0%})" if start_p is not None else "")
    parts.append(row_label(0, _("Where the model starts")))
    parts.append(marker(0, explanation.base_value, start_text))
    for i, step in enumerate(steps, start=1):
        y = top + i * row_h + 6
        x0, x1 = sorted((x(step.start), x(step.end)))
        colour = TOWARD if step.contribution >= 0 else AGAINST
        arrow = "→" if step.contribution >= 0 else "←"
        parts.append(row_label(i, step.label, step.value))
        parts.append(
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 1.5):.1f}" height="{row_h - 12}" '
            f'fill="{colour}" rx="2"/>'
        )
        tx, anchor = (x1 + 4, "start") if step.contribution >= 0 else (x0 - 4, "end")
        parts.append(
            f'<text x="{tx:.1f}" y="{y + row_h / 2 - 2:.1f}" font-size="12" fill="{INK}" '
            f'text-anchor="{anchor}">{arrow}</text>'
        )
    end_text = _("you") + (f" ({end_p:.0%})" if end_p is not None else "")
    parts.append(row_label(n_rows - 1, _("Your result")))
    parts.append(marker(n_rows - 1, final, end_text))
    parts.append("</svg>")

    rows = [
        {
            "label": s.label,
            "value": s.value,
            "direction": _("toward “%(positive)s”") % {"positive": positive}
            if s.contribution >= 0
            else _("away from “%(positive)s”") % {"positive": positive},
            "size": _strength(abs(s.contribution), steps),
            "contribution": s.contribution,
        }
        for s in steps
    ]
    return {
        "svg": mark_safe("".join(parts)),  # noqa: S308 - every text above is escaped
        "rows": rows,
        "start_probability": start_p,
        "end_probability": end_p,
        "positive": positive,
    }


def _strength(size: float, steps: list[Step]) -> str:
    largest = max((abs(s.contribution) for s in steps), default=0.0) or 1.0
    share = size / largest
    if share >= 0.6:
        return _("strong")
    if share >= 0.25:
        return _("moderate")
    return _("slight")


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ---------------------------------------------------------------------------- images
def image_svgs(explanation, decision) -> dict:
    """The image the model read, and the same image with its attributions over it: red where a
    pixel pushed toward the decided class, blue where it pushed away."""
    schema = schema_of(decision.model_version)
    feature = next(f for f in schema.features if f.type == "image")
    h, w = feature.shape[0], feature.shape[1]
    pixels = np.asarray(decision.features.get(feature.name) or [], dtype=np.float64)
    if pixels.size != h * w:
        return {}
    pixels = pixels.reshape(h, w)
    low, high = float(feature.minimum or 0), float(feature.maximum or 255)
    start = 0
    for f, columns in schema.groups:
        if f == feature.name:
            start = columns[0]
    values = np.asarray(explanation.raw_values[start : start + h * w], dtype=np.float64).reshape(h, w)
    scale = float(np.max(np.abs(values))) or 1.0
    cell = 24

    def grid(title: str, with_heat: bool, ident: str) -> SafeString:
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="digit" viewBox="0 0 {w * cell} {h * cell}" '
            f'width="{w * cell}" height="{h * cell}" role="img" aria-labelledby="{ident}" focusable="false">'
            f'<title id="{ident}">{escape(title)}</title>'
        ]
        for r in range(h):
            for c in range(w):
                # Ink is dark on paper: high pixel values are drawn dark.
                level = int(round(255 * (1 - (pixels[r, c] - low) / (high - low))))
                parts.append(
                    f'<rect x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" '
                    f'fill="rgb({level},{level},{level})"/>'
                )
                if with_heat and values[r, c] != 0:
                    alpha = min(abs(values[r, c]) / scale, 1.0) * 0.75
                    colour = "#d7261e" if values[r, c] > 0 else "#1f5fa8"
                    parts.append(
                        f'<rect x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" '
                        f'fill="{colour}" fill-opacity="{alpha:.2f}"/>'
                    )
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308 - the only text is escaped

    flat = values.reshape(-1)
    strongest = np.argsort(-flat)[:3]
    places = "; ".join(
        _("row %(row)s, column %(column)s") % {"row": i // w + 1, "column": i % w + 1} for i in strongest
    )
    description = _(
        "Red squares are the parts of the image that made the model read “%(outcome)s”; blue squares "
        "pointed to another answer. The strongest, counted from the top left: %(places)s."
    ) % {"outcome": decision.outcome, "places": places}
    return {
        "image": grid(_("The image the decision was based on"), False, "image-title"),
        "heatmap": grid(_("The same image with the parts that mattered most"), True, "heatmap-title"),
        "description": description,
    }


def runner_up_classes(decision, limit: int = 3) -> list[dict]:
    """The classes the model rated next, with its probabilities (for multiclass decisions)."""
    version = decision.model_version
    if version.output["type"] != "multiclass" or decision.personal_data_erased_at is not None:
        return []
    schema = schema_of(version)
    proba = predictor_for(version).predict_proba(schema.encode([decision.features]))[0]
    labels = version.output["class_labels"]
    order = [int(i) for i in np.argsort(-proba) if labels[int(i)] != decision.outcome]
    return [{"label": labels[i], "probability": float(proba[i])} for i in order[:limit]]
