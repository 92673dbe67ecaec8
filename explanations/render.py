"""Server-side charts of an explanation, as inline SVG with a text alternative.

No JavaScript and nothing fetched: the subject's page must work in any browser, and a screen
reader gets the same facts from the table every chart comes with. Direction is shown by an arrow
and a word as well as by colour, so nothing depends on telling colours apart.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from html import escape

import numpy as np
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from PIL import Image

from decisions.image_features import pixel_map, rgb_pixels
from decisions.registry import predictor_for, schema_of

from .reasons import in_score_units, score_text
from .render_narrow import NarrowChart, NarrowRow, narrow_svg

MAX_BARS = 8
WIDE_WIDTH = 700  # px: the wide waterfall's width, drawn at its own size (rationale.css)
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
    the person's values moved it to the result. Returns {"svg": SafeString, "svg_narrow":
    SafeString, "rows": [...], ...}: `svg` is laid out for a column at least WIDE_WIDTH px wide and
    drawn at its own size (never scaled down, which would shrink its text), `svg_narrow` for any
    narrower column (explanations.render_narrow); the stylesheet shows the one that fits. `rows`
    are the text alternative the template shows as a table."""
    output = decision.model_version.output
    positive = output["class_labels"][1] if output["type"] == "binary" else decision.outcome
    # A regression explained in its score is drawn and told in the score's units.
    units = in_score_units(explanation, decision)
    contributions = explanation.labelled_contributions
    steps = waterfall_steps(contributions, explanation.base_value)
    final = explanation.base_value + sum(float(c["contribution"]) for c in contributions)
    points = [explanation.base_value, final] + [s.start for s in steps] + [s.end for s in steps]
    if output["type"] == "binary" and output.get("threshold") is not None:
        threshold = float(output["threshold"])
        if explanation.output_space == "log_odds":
            threshold = math.log(threshold / (1 - threshold))
        points.append(threshold)
    elif units:
        threshold = float(output["threshold"])
        points.append(threshold)
    else:
        threshold = None
    low, high = min(points), max(points)
    pad = (high - low) * 0.05 or 1.0
    low, high = low - pad, high + pad

    label_w, plot_w, row_h, top = 300, 380, 30, 34
    width = WIDE_WIDTH
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
    away_text, toward_text = _("← away from “%(positive)s”"), _("toward “%(positive)s” →")
    if units:
        desc = _(
            "Bars pointing right raised the score, bars pointing left lowered it; the dashed line is "
            "the cut-off. The table below gives the same information."
        )
        away_text, toward_text = _("← lowered the score"), _("raised the score →")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="waterfall" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{title_id} {desc_id}" '
        'focusable="false">',
        f'<title id="{title_id}">{escape(_("How each of your details moved the result"))}</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
        f'<text x="{label_w}" y="18" font-size="13" fill="{MUTED}">'
        f"{escape(away_text % {'positive': positive})}</text>",
        f'<text x="{label_w + plot_w}" y="18" font-size="13" fill="{MUTED}" text-anchor="end">'
        f"{escape(toward_text % {'positive': positive})}</text>",
    ]
    if threshold is not None:
        tx = x(threshold)
        line_label = _("cut-off") if units else _("decision line")
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{top + n_rows * row_h}" '
            f'stroke="{INK}" stroke-dasharray="4 3"/>'
            f'<text x="{tx + 4:.1f}" y="{top + n_rows * row_h + 16}" font-size="12" fill="{INK}">'
            f"{escape(line_label)}</text>"
        )

    def row_label(i: int, text: str, sub: str = "") -> str:
        y = top + i * row_h + row_h / 2
        out = (
            f'<text x="{label_w - 8}" y="{y - (3 if sub else -4):.1f}" font-size="13" fill="{INK}" '
            f'text-anchor="end">{escape(_truncate(text, 40))}</text>'
        )
        if sub:
            out += (
                f'<text x="{label_w - 8}" y="{y + 11:.1f}" font-size="12" fill="{MUTED}" '
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
    if units:
        start_text = _("average case") + f" ({score_text(explanation.base_value, output)})"
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
    if units:
        end_text = _("you") + f" ({score_text(final, output)})"
    parts.append(row_label(n_rows - 1, _("Your result")))
    parts.append(marker(n_rows - 1, final, end_text))
    parts.append("</svg>")

    rows = [
        {
            "label": s.label,
            "value": s.value,
            "direction": _direction(s.contribution, output, positive, units),
            "size": _strength(abs(s.contribution), steps),
            "contribution": s.contribution,
        }
        for s in steps
    ]
    narrow = NarrowChart(
        chart_id=f"{chart_id}-narrow",
        title=_("How each of your details moved the result"),
        desc=desc,
        away=away_text % {"positive": positive},
        toward=toward_text % {"positive": positive},
        rows=(
            NarrowRow(_("Where the model starts"), start=explanation.base_value, marker=start_text),
            *(NarrowRow(s.label, s.value, s.start, s.end) for s in steps),
            NarrowRow(_("Your result"), start=final, marker=end_text),
        ),
        low=low,
        high=high,
        threshold=threshold,
        threshold_label=(_("cut-off") if units else _("decision line")) if threshold is not None else "",
    )
    return {
        "svg": mark_safe("".join(parts)),  # noqa: S308 - every text above is escaped
        "svg_narrow": mark_safe(narrow_svg(narrow, toward=TOWARD, against=AGAINST, ink=INK, muted=MUTED)),  # noqa: S308 - escaped there
        "rows": rows,
        "start_probability": start_p,
        "end_probability": end_p,
        "positive": positive,
        "in_score_units": units,
    }


def _direction(contribution: float, output: dict, positive: str, units: bool) -> str:
    if units:
        amount = score_text(abs(contribution), output, change=True)
        if contribution == 0:
            return _("no effect on the score")
        if contribution > 0:
            return _("raised the score by %(amount)s") % {"amount": amount}
        return _("lowered the score by %(amount)s") % {"amount": amount}
    if contribution >= 0:
        return _("toward “%(positive)s”") % {"positive": positive}
    return _("away from “%(positive)s”") % {"positive": positive}


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
IMAGE_SIDE = 192  # the longer side of an image as drawn, in CSS pixels
MAX_SQUARES = 32 * 32  # up to this many pixels, one SVG square each; beyond, an embedded PNG
HEAT_TOWARD = (215, 38, 30)  # red: toward the decided class
HEAT_AWAY = (31, 95, 168)  # blue: away from it
HEAT_OPACITY = 0.75  # the overlay's opacity where the attribution is largest


def image_svgs(explanation, decision) -> dict:
    """The image the model read in its own colours, and the same image with its attributions
    (summed over colour channels) over it: red where a pixel pushed toward the decided class,
    blue where it pushed away."""
    schema = schema_of(decision.model_version)
    feature = next(f for f in schema.features if f.type == "image")
    pixels = decision.features.get(feature.name) or []
    if np.size(pixels) != feature.width:
        return {}
    start = dict(schema.groups)[feature.name][0]
    values = explanation.raw_values[start : start + feature.width]
    return image_pair(feature, pixels, values, decision.outcome)


def image_pair(feature, pixels, values, outcome: str) -> dict:
    """`image_svgs` for one image feature's values and attributions (flat, (h, w, c) order)."""
    rgb = rgb_pixels(feature, pixels)
    heat = pixel_map(feature, values)
    colour, opacity = heat_overlay(heat)
    w = heat.shape[1]
    strongest = np.argsort(-heat.reshape(-1), kind="stable")[:3]
    places = "; ".join(
        _("row %(row)s, column %(column)s") % {"row": i // w + 1, "column": i % w + 1} for i in strongest
    )
    description = _(
        "Red squares are the parts of the image that made the model read “%(outcome)s”; blue squares "
        "pointed to another answer. The strongest, counted from the top left: %(places)s."
    ) % {"outcome": outcome, "places": places}
    return {
        "image": _image_svg(rgb, None, _("The image the decision was based on"), "image-title"),
        "heatmap": _image_svg(
            rgb, (colour, opacity), _("The same image with the parts that mattered most"), "heatmap-title"
        ),
        "description": description,
    }


def heat_overlay(heat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A diverging overlay of an (h, w) attribution map: its colour (h, w, 3) and its opacity
    (h, w), proportional to the attribution's size, largest = HEAT_OPACITY, none = 0."""
    scale = float(np.max(np.abs(heat))) or 1.0
    colour = np.where((heat > 0)[:, :, None], np.array(HEAT_TOWARD), np.array(HEAT_AWAY)).astype(np.uint8)
    opacity = np.round(np.minimum(np.abs(heat) / scale, 1.0) * HEAT_OPACITY, 2)
    return colour, opacity


def heatmap_rgb(rgb: np.ndarray, colour: np.ndarray, opacity: np.ndarray) -> np.ndarray:
    """The overlay composited over the image ("source over"), as 8-bit RGB (h, w, 3)."""
    alpha = opacity[:, :, None]
    return np.rint(rgb * (1.0 - alpha) + colour * alpha).astype(np.uint8)


def _image_svg(rgb: np.ndarray, overlay: tuple | None, title: str, ident: str) -> SafeString:
    h, w = rgb.shape[:2]
    cell = max(1, IMAGE_SIDE // max(h, w))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="digit" viewBox="0 0 {w * cell} {h * cell}" '
        f'width="{w * cell}" height="{h * cell}" role="img" aria-labelledby="{ident}" focusable="false">'
        f'<title id="{ident}">{escape(title)}</title>'
    ]
    if h * w > MAX_SQUARES:
        # One pixel per square would make the page megabytes long: draw a PNG instead.
        shown = rgb if overlay is None else heatmap_rgb(rgb, *overlay)
        parts.append(
            f'<image href="data:image/png;base64,{_png_base64(shown)}" width="{w * cell}" '
            f'height="{h * cell}" preserveAspectRatio="none" image-rendering="pixelated"/>'
        )
    else:
        for r in range(h):
            for c in range(w):
                red, green, blue = (int(v) for v in rgb[r, c])
                parts.append(
                    f'<rect x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" '
                    f'fill="rgb({red},{green},{blue})"/>'
                )
                if overlay is not None and overlay[1][r, c] > 0:
                    red, green, blue = (int(v) for v in overlay[0][r, c])
                    parts.append(
                        f'<rect x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" '
                        f'fill="rgb({red},{green},{blue})" fill-opacity="{overlay[1][r, c]:.2f}"/>'
                    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - the only text is escaped


def _png_base64(rgb: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


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
