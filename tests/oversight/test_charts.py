"""The auditor's SVG charts, read back as XML: bars as long as their figures, the four-fifths line
where it belongs, text that keeps its size (no viewBox) and says in words what colour says."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from oversight.charts import UNKNOWN_GREY, WARN, drift_chart, fairness_chart, importance_chart
from oversight.drift import Distribution, Window
from oversight.fairness import AttributeFairness, GroupRate

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))  # noqa: S314 - the chart the test just drew


def texts(root) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def bars(root) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect")]


def percent(value: str) -> float:
    assert value.endswith("%"), value
    return float(value[:-1])


def attribute(*groups) -> AttributeFairness:
    best = max(g[3] / g[2] for g in groups if g[2])
    rates = [
        GroupRate(value, label, n, fav, fav / n if n else None, (fav / n) / best if n else None)
        for value, label, n, fav in groups
    ]
    return AttributeFairness("foreign_worker", "Foreign worker", rates, None, None)


def assert_readable_and_named(root, chart_id: str) -> None:
    assert root.get("viewBox") is None and root.get("width") == "100%"  # text never scales down
    assert root.get("role") == "img"
    assert (
        root.get("aria-labelledby") == f"{chart_id}-title"
        and root.get("aria-describedby") == f"{chart_id}-desc"
    )
    assert root.find(f"{SVG}title").get("id") == f"{chart_id}-title"
    assert root.find(f"{SVG}desc").get("id") == f"{chart_id}-desc"
    sizes = {float(t.get("font-size") or root.get("font-size")) for t in root.iter(f"{SVG}text")}
    assert sizes and min(sizes) >= 12


def test_a_fairness_chart_draws_each_rate_and_the_four_fifths_line():
    chart = fairness_chart(
        attribute(("yes", "Yes", 40, 20), ("no", "No", 40, 30), ("other", "Stateless", 0, 0)),
        four_fifths=0.8,
        chart_id="fairness-foreign_worker",
    )
    root = parse(chart)
    assert_readable_and_named(root, "fairness-foreign_worker")
    drawn = [r for r in bars(root) if r.get("y") != "0"]
    assert [percent(r.get("width")) for r in drawn] == [50.0, 75.0]
    assert [r.get("fill") for r in drawn] == [WARN, "#1f5fa8"]  # 0.5 / 0.75 = 0.67: below four-fifths
    dashed = [line for line in root.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    assert percent(dashed[0].get("x1")) == 60.0  # four-fifths of 75%
    words = texts(root)
    assert "Yes — below four-fifths" in words and "No" in words  # said, not only coloured
    assert "50.0% of 40" in words and "75.0% of 40" in words
    assert "Stateless" in words and "no decisions" in words
    assert "four-fifths of the highest rate: 60.0%" in words


def test_an_attribute_without_decisions_has_no_chart():
    empty = AttributeFairness(
        "foreign_worker", "Foreign worker", [GroupRate("yes", "Yes", 0, 0, None)], None, None
    )
    assert fairness_chart(empty, four_fifths=0.8, chart_id="x") is None


def test_labels_are_escaped_and_long_ones_shortened():
    chart = fairness_chart(
        attribute(("a", "<b>Group</b> & " + "a very long label " * 5, 40, 40), ("b", "B", 40, 36)),
        four_fifths=0.8,
        chart_id="c",
    )
    words = texts(parse(chart))  # parses: nothing unescaped
    assert words[0].startswith("<b>Group</b> & a very long label") and words[0].endswith("…")
    assert len(words[0]) <= 46
    assert "&lt;b&gt;" in str(chart)


def test_importance_bars_are_relative_to_the_largest_and_labelled():
    features = [
        {"feature": "income", "label": "Monthly income", "mean_abs_contribution": 0.4},
        {"feature": "term_months", "label": "Loan term", "mean_abs_contribution": 0.1},
    ]
    root = parse(importance_chart(features, chart_id="importance-chart"))
    assert_readable_and_named(root, "importance-chart")
    assert [percent(r.get("width")) for r in bars(root)] == [100.0, 25.0]
    assert {"Monthly income", "Loan term", "0.4", "0.1"} <= set(texts(root))
    assert importance_chart([], chart_id="x") is None


def test_a_drift_chart_stacks_each_windows_shares_with_its_psi_in_words():
    weeks = [datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC)]
    distribution = Distribution(
        "Foreign worker",
        ["Yes", "No", "not recorded"],
        [Window(weeks[0], 10, [0.5, 0.5, 0.0]), Window(weeks[1], 20, [0.25, 0.5, 0.25], psi=0.3)],
        ordered=False,
        unknown=True,
    )
    root = parse(drift_chart(distribution, "week", chart_id="feature-chart"))
    assert_readable_and_named(root, "feature-chart")
    rows = {}
    for rect in bars(root):
        rows.setdefault(rect.get("y"), []).append(
            (percent(rect.get("x")), percent(rect.get("width")), rect.get("fill"))
        )
    first, second = (rows[y] for y in sorted(rows, key=float))
    assert [(x, w) for x, w, _ in first] == [(0.0, 50.0), (50.0, 50.0)]  # an empty bin draws nothing
    assert [(x, w) for x, w, _ in second] == [(0.0, 25.0), (25.0, 50.0), (75.0, 25.0)]
    assert second[2][2] == UNKNOWN_GREY
    words = texts(root)
    assert "week of 5 Jan 2026 (10)" in words and "week of 12 Jan 2026 (20)" in words
    assert "reference" in words and "PSI 0.30, large" in words
