"""Server-rendered charts: SVG that needs no JavaScript, with the same facts as text."""

import re
from xml.etree import ElementTree

import numpy as np
import pytest

from audit.services import Actor
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.models import Explanation
from explanations.recording import decision_record_many
from explanations.render import image_svgs, runner_up_classes, waterfall_steps, waterfall_svg

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


def explained(version, rows, model):
    items = [DecisionInput(model=model, features=r, subject_ref=f"s-{i}") for i, r in enumerate(rows)]
    recorded = decision_record_many(items=items, actor=Actor.system("tests"))
    explanation_drain(model_version_id=version.pk)
    return [
        Explanation.objects.select_related("decision__model_version").get(decision=r.decision)
        for r in recorded
    ]


def test_waterfall_adds_up_from_the_base_value_to_the_result(credit_version, credit_trained):
    [e] = explained(credit_version, credit_trained.sample_rows[:1], "credit-risk")
    steps = waterfall_steps(e.labelled_contributions, e.base_value)
    assert len(steps) == 9  # eight largest, then "9 other factors together"
    assert [s.label for s in steps[:8]] == [
        c["label"] for c in sorted(e.labelled_contributions, key=lambda c: -abs(c["contribution"]))[:8]
    ]
    assert steps[-1].label == "9 other factors together"
    assert steps[0].start == e.base_value
    for a, b in zip(steps, steps[1:], strict=False):
        assert b.start == pytest.approx(a.end)
    assert steps[-1].end == pytest.approx(e.predicted_value, abs=1e-4)


def test_waterfall_svg_is_accessible_and_escaped(credit_version, credit_trained):
    [e] = explained(credit_version, credit_trained.sample_rows[:1], "credit-risk")
    e.labelled_contributions[0]["label"] = "Savings <script>alert(1)</script>"
    chart = waterfall_svg(e, e.decision)
    root = ElementTree.fromstring(str(chart["svg"]))  # noqa: S314 - our own SVG, checked well-formed
    assert root.get("role") == "img" and root.get("aria-labelledby") == "why-chart-title why-chart-desc"
    assert root.find(f"{SVG}title").text == "How each of your details moved the result"
    assert "<script>" not in str(chart["svg"]) and "&lt;script&gt;" in str(chart["svg"])
    assert len(root.findall(f"{SVG}rect")) == len(chart["rows"]) == 9
    # The text alternative carries direction in words, not colour alone.
    for row, step in zip(chart["rows"], waterfall_steps(e.labelled_contributions, e.base_value), strict=True):
        assert row["direction"] == ("toward “approved”" if step.contribution >= 0 else "away from “approved”")
        assert row["size"] in ("strong", "moderate", "slight")
    assert chart["end_probability"] == pytest.approx(e.decision.score, abs=1e-4)


def test_image_decisions_show_the_heatmap_and_the_runner_up_classes(digits_version, digits_trained):
    [e] = explained(digits_version, digits_trained.sample_rows[:1], "digit-reader")
    assert e.status == "done", e.error
    svgs = image_svgs(e, e.decision)
    image = ElementTree.fromstring(str(svgs["image"]))  # noqa: S314 - our own output
    heat = ElementTree.fromstring(str(svgs["heatmap"]))  # noqa: S314 - our own output
    assert len(image.findall(f"{SVG}rect")) == 64
    overlay = [r for r in heat.findall(f"{SVG}rect") if r.get("fill-opacity")]
    assert 0 < len(overlay) <= 64
    strongest = int(np.argmax(e.raw_values))
    assert f"row {strongest // 8 + 1}, column {strongest % 8 + 1}" in svgs["description"]
    runners = runner_up_classes(e.decision)
    assert len(runners) == 3 and e.decision.outcome not in [r["label"] for r in runners]
    assert runners == sorted(runners, key=lambda r: -r["probability"])
    assert all(r["probability"] <= e.decision.score for r in runners)
    assert e.counterfactuals["status"] == "not_applicable"


def test_the_subject_page_shows_the_image_explanation(client, digits_version, digits_trained):
    items = [DecisionInput(model="digit-reader", features=digits_trained.sample_rows[0], subject_ref="d")]
    [recorded] = decision_record_many(items=items, actor=Actor.system("tests"))
    explanation_drain(model_version_id=digits_version.pk)
    page = re.sub(r"\s+", " ", client.get(f"/access/{recorded.access_token}/", follow=True).content.decode())
    assert 'class="digit"' in page and "What the model considered next" in page
    assert "This decision is based on information you cannot change" in page
