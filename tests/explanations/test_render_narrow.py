"""The waterfall's two layouts: text that is never drawn under 12 px, at any width."""

from xml.etree import ElementTree

import pytest

from audit.services import Actor
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.models import Explanation
from explanations.recording import decision_record_many
from explanations.render import WIDE_WIDTH, waterfall_steps, waterfall_svg
from explanations.render_narrow import LABEL_CHARS

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def explanation(credit_version, credit_trained):
    items = [DecisionInput(model="credit-risk", features=credit_trained.sample_rows[0], subject_ref="n")]
    [recorded] = decision_record_many(items=items, actor=Actor.system("tests"))
    explanation_drain(model_version_id=credit_version.pk)
    return Explanation.objects.select_related("decision__model_version").get(decision=recorded.decision)


def test_the_wide_layout_is_drawn_at_its_own_size(explanation):
    wide = ElementTree.fromstring(str(waterfall_svg(explanation, explanation.decision)["svg"]))  # noqa: S314
    # Its width is its viewBox's: the page shows it only where that fits, so it is never shrunk.
    assert wide.get("width") == str(WIDE_WIDTH) == wide.get("viewBox").split()[2]
    assert min(int(t.get("font-size")) for t in wide.iter(f"{SVG}text")) == 12


def test_the_narrow_layout_keeps_its_text_size_at_any_width(explanation):
    explanation.labelled_contributions[0]["label"] = (
        "A very long label <b>that</b> would not fit on a phone at all"
    )
    chart = waterfall_svg(explanation, explanation.decision)
    narrow = ElementTree.fromstring(str(chart["svg_narrow"]))  # noqa: S314 - our own SVG
    # No viewBox and a width of 100%: nothing scales it, so 12 px text is drawn at 12 px.
    assert narrow.get("viewBox") is None and narrow.get("width") == "100%"
    assert narrow.get("role") == "img"
    assert narrow.get("aria-labelledby") == "why-chart-narrow-title why-chart-narrow-desc"
    texts = list(narrow.iter(f"{SVG}text"))
    assert min(int(t.get("font-size")) for t in texts) == 12
    # Every x is a share of the width, or a few pixels from the start.
    for element in (*texts, *narrow.iter(f"{SVG}rect")):
        assert element.get("x").endswith("%") or float(element.get("x")) < 10
    # One bar per step, the same steps as the wide chart and its table; each label on its own line.
    steps = waterfall_steps(explanation.labelled_contributions, explanation.base_value)
    assert len(narrow.findall(f"{SVG}rect")) == len(chart["rows"]) == len(steps)
    labels = [t.text for t in texts if t.get("font-size") == "13"]
    assert labels[1:-1] == [s.label if len(s.label) <= LABEL_CHARS else s.label[:35] + "…" for s in steps]
    assert "<b>" not in str(chart["svg_narrow"]) and "&lt;b&gt;" in str(chart["svg_narrow"])
