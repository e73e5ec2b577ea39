"""The SVG charts: geometry matches the data, text is escaped, marks have tooltips, PDF works.

Each chart is parsed as XML and checked through its own axis: the gridlines carry their
tick values (``data-tick``), so a bar's length can be compared with the scale the reader
sees rather than with numbers copied from the implementation.
"""

from __future__ import annotations

import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from itertools import pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jinja2 import Environment
from markupsafe import Markup

from joinedup.web.charts import (
    Bar,
    PyramidOutline,
    ReferenceLine,
    Series,
    ValueFormat,
    bar_chart,
    format_value,
    grouped_bar_chart,
    line_chart,
    nice_ticks,
    population_pyramid,
    stacked_bar_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
TOLERANCE = 0.02  # coordinates are written to two decimals

BANDS = ["0-4", "5-9", "10-14", "15-19", "20-24", "25-64", "65-74", "75-84", "85-89", "90+"]
MALE = [1400, 1500, 1600, 1500, 1300, 9000, 2500, 1800, 450, 180]
FEMALE = [1330, 1480, 1520, 1430, 1260, 9200, 2700, 2100, 640, 390]
SEGMENTS = [
    "Healthy well",
    "Maternal and infant",
    "Healthy children",
    "Long-term conditions",
    "Disability",
    "Frailty",
    "Incurable cancer",
    "End of life",
]


def prevalence_bars() -> list[Bar]:
    return [
        Bar("Bodmin", 12.3, ci_low=11.0, ci_high=13.6),
        Bar("Falmouth & Penryn", 15.1, ci_low=14.0, ci_high=16.2),
        Bar("Isles of Scilly", None, suppressed=True),
        Bar("Truro", 3.2, ci_low=1.1, ci_high=7.9),
        Bar("St Austell", 0.0),
    ]


def prevalence_chart() -> Markup:
    return bar_chart(
        prevalence_bars(),
        title="Diabetes prevalence by PCN",
        value_label="Percentage of patients aged 17 and over",
        value_format=ValueFormat.PERCENT,
        reference=ReferenceLine(9.9, "England"),
    )


def all_charts() -> dict[str, Markup]:
    """One of each chart, with the awkward cases mixed in."""
    return {
        "bar": prevalence_chart(),
        "negative bar": bar_chart(
            [Bar("North", -3.5), Bar("South", 4.25), Bar("West", -12.0)],
            title="Change since 2019",
            value_label="Change in admissions per 1,000",
            value_format=ValueFormat.PER_1000,
            reference=ReferenceLine(1.2, "ICS average"),
        ),
        "grouped": grouped_bar_chart(
            ["Hypertension", "Diabetes", "COPD"],
            ["Recorded", "Expected"],
            [[14.2, 18.9], [7.1, 8.8], [2.3, None]],
            title="Recorded and expected prevalence",
            value_label="Percentage of registered patients",
            value_format=ValueFormat.PERCENT,
        ),
        "stacked": stacked_bar_chart(
            ["Cornwall", "Isles of Scilly", "No one here"],
            SEGMENTS,
            [
                [40000, 3000, 9000, 30000, 5000, 8000, 1000, 700],
                [900, 20, 150, 600, 80, 150, 10, 5],
                [0, 0, 0, 0, 0, 0, 0, 0],
            ],
            title="Population segments by area",
        ),
        "pyramid": population_pyramid(
            BANDS,
            MALE,
            FEMALE,
            title="Registered population",
            outline=PyramidOutline("Projected 2035", [v * 1.1 for v in MALE], FEMALE),
        ),
        "line": line_chart(
            ["2024", "2025", "2026", "2027"],
            [
                Series("Emergency admissions", [52000, 53100, None, 55600]),
                Series("Elective admissions", [41000, 41500, 42100, 42600]),
            ],
            title="Projected demand",
            value_label="Admissions a year",
            value_format=ValueFormat.COUNT,
        ),
        "empty": bar_chart([], title="Nothing yet", value_label="Count"),
    }


# --- reading charts back ------------------------------------------------------------------


def parse(chart: Markup) -> ET.Element:
    return ET.fromstring(str(chart))


def marks(root: ET.Element, kind: str) -> list[ET.Element]:
    return [element for element in root.iter() if element.get("data-mark") == kind]


def title_of(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None, f"{element.tag} {element.attrib} has no title"
    return title.text or ""


def texts(root: ET.Element) -> list[str]:
    return ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]


def number(element: ET.Element, name: str) -> float:
    return float(element.attrib[name])


def x_scale(root: ET.Element) -> Callable[[float], float]:
    """The value-to-x mapping the chart's vertical gridlines show."""
    ticks = sorted(
        {
            (float(line.attrib["data-tick"]), number(line, "x1"))
            for line in root.iter(f"{SVG}line")
            if "data-tick" in line.attrib
        }
    )
    (v0, x0), (v1, x1) = ticks[0], ticks[-1]
    return lambda value: x0 + (value - v0) / (v1 - v0) * (x1 - x0)


def tick_values(root: ET.Element) -> list[float]:
    return sorted(
        {float(line.attrib["data-tick"]) for line in root.iter() if "data-tick" in line.attrib}
    )


def bar_by_label(root: ET.Element, label: str) -> ET.Element:
    (bar,) = [bar for bar in marks(root, "bar") if title_of(bar).startswith(f"{label}:")]
    return bar


# --- bar chart ----------------------------------------------------------------------------


def test_bar_lengths_are_proportional_to_values_on_the_axis_scale() -> None:
    root = parse(prevalence_chart())
    scale = x_scale(root)
    for bar in prevalence_bars():
        if bar.value is None:
            continue
        rect = bar_by_label(root, bar.label)
        assert number(rect, "x") == pytest.approx(scale(0), abs=TOLERANCE)
        assert number(rect, "width") == pytest.approx(scale(bar.value) - scale(0), abs=TOLERANCE)


def test_whiskers_sit_at_the_confidence_limits() -> None:
    root = parse(prevalence_chart())
    scale = x_scale(root)
    whiskers = marks(root, "whisker")
    with_ci = [bar for bar in prevalence_bars() if bar.ci_low is not None]
    assert len(whiskers) == len(with_ci)
    for bar, whisker in zip(with_ci, whiskers, strict=True):
        assert bar.ci_low is not None and bar.ci_high is not None
        (line,) = whisker.iter(f"{SVG}line")
        assert number(line, "x1") == pytest.approx(scale(bar.ci_low), abs=TOLERANCE)
        assert number(line, "x2") == pytest.approx(scale(bar.ci_high), abs=TOLERANCE)
        assert title_of(whisker) == (
            f"{bar.label}: 95% confidence interval {bar.ci_low:.1f}% to {bar.ci_high:.1f}%"
        )


def test_the_reference_line_is_at_its_value_and_labelled() -> None:
    root = parse(prevalence_chart())
    (line,) = marks(root, "reference")
    assert number(line, "x1") == pytest.approx(x_scale(root)(9.9), abs=TOLERANCE)
    assert number(line, "x1") == number(line, "x2")
    assert title_of(line) == "England: 9.9%"
    assert "England: 9.9%" in texts(root)


def test_a_suppressed_bar_has_no_value() -> None:
    root = parse(prevalence_chart())
    assert not [bar for bar in marks(root, "bar") if "Isles of Scilly" in title_of(bar)]
    (stub,) = marks(root, "suppressed")
    assert title_of(stub).startswith("Isles of Scilly: suppressed")
    assert not re.search(r"\d", title_of(stub))
    assert stub.attrib["fill"].startswith("url(#")
    assert "suppressed" in texts(root)
    # Values are labelled at the bar ends: one per bar with a value, none for this one.
    values = [text for text in texts(root) if text.endswith("%") and ":" not in text]
    value_labels = [text for text in values if text in {"12.3%", "15.1%", "3.2%", "0.0%"}]
    assert sorted(value_labels) == ["0.0%", "12.3%", "15.1%", "3.2%"]


def test_negative_values_extend_left_of_zero() -> None:
    chart = bar_chart(
        [Bar("North", -3.5), Bar("South", 4.25)],
        title="Change",
        value_label="Change",
    )
    root = parse(chart)
    scale = x_scale(root)
    north = bar_by_label(root, "North")
    assert number(north, "x") == pytest.approx(scale(-3.5), abs=TOLERANCE)
    assert number(north, "x") + number(north, "width") == pytest.approx(scale(0), abs=TOLERANCE)
    assert min(tick_values(root)) <= -3.5
    assert "4.3" in texts(root)  # rounded half up, as people round


def test_all_zeros_and_a_single_bar() -> None:
    zeros = parse(bar_chart([Bar("A", 0), Bar("B", 0)], title="Zeros", value_label="Count"))
    assert [number(bar, "width") for bar in marks(zeros, "bar")] == [0, 0]
    assert tick_values(zeros)[0] == 0 and tick_values(zeros)[-1] > 0

    single = parse(
        bar_chart(
            [Bar("Only", 0.1234)],
            title="One",
            value_label="Share",
            value_format=ValueFormat.SHARE,
        )
    )
    (bar,) = marks(single, "bar")
    assert title_of(bar) == "Only: 12.3%"
    assert max(tick_values(single)) >= 0.1234


def test_long_labels_are_truncated_with_the_full_label_in_a_tooltip() -> None:
    long = "Camborne, Pool and Redruth Primary Care Network and some more words " * 2
    root = parse(bar_chart([Bar(long, 5)], title="Long", value_label="x"))
    label = next(text for text in texts(root) if text.startswith("Camborne"))
    assert label.endswith("\u2026") and len(label) < len(long.strip())
    groups = [g for g in root.iter(f"{SVG}g") if g.find(f"{SVG}title") is not None]
    assert any(title_of(g) == " ".join(long.split()) for g in groups)


def test_labels_are_escaped() -> None:
    chart = bar_chart(
        [Bar("<script>alert(1)</script>", 1), Bar("A & B", 2), Bar('Say "hi"\x00\x1b', 3)],
        title="<b>Title</b>",
        value_label="Count & more",
        description="A <desc> & more",
    )
    root = parse(chart)  # well-formed, even with control characters in a label
    assert not [element for element in root.iter() if "script" in element.tag.lower()]
    assert "&lt;script&gt;" in str(chart)
    assert "<script>alert(1)</script>" in texts(root)
    assert "A & B" in texts(root)
    assert 'Say "hi"' in texts(root)
    assert title_of(root) == "<b>Title</b>"
    assert root.find(f"{SVG}desc") is not None
    assert "".join(root.find(f"{SVG}desc").itertext()) == "A <desc> & more"  # type: ignore[union-attr]


# --- every chart ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(all_charts()))
def test_charts_are_well_formed_accessible_svg(name: str) -> None:
    chart = all_charts()[name]
    assert isinstance(chart, Markup)
    root = parse(chart)
    assert root.tag == f"{SVG}svg"
    assert root.attrib["role"] == "img"
    width, height = int(root.attrib["width"]), int(root.attrib["height"])
    assert root.attrib["viewBox"] == f"0 0 {width} {height}"
    title_id, desc_id = root.attrib["aria-labelledby"].split()
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.attrib["id"] == title_id and title.text
    assert desc is not None and desc.attrib["id"] == desc_id
    assert desc.text and desc.text.endswith(".")
    # WeasyPrint lacks these, and they are not needed.
    for element in root.iter():
        assert element.tag not in {f"{SVG}style", f"{SVG}foreignObject", f"{SVG}script"}
        assert "class" not in element.attrib and "style" not in element.attrib
        # A title inside text would be drawn as text by WeasyPrint.
        if element.tag == f"{SVG}text":
            assert element.find(f"{SVG}title") is None
    # Sensible precision: no 0.30000000000000004 anywhere.
    assert not re.search(r"\d\.\d{3,}", str(chart))


@pytest.mark.parametrize("name", list(all_charts()))
def test_every_mark_has_a_title(name: str) -> None:
    root = parse(all_charts()[name])
    for element in root.iter():
        if "data-mark" in element.attrib:
            assert title_of(element).strip(), element.attrib
    # And the data marks are all there.
    counts = {
        kind: len(marks(root, kind))
        for kind in ("bar", "segment", "point", "line", "outline", "missing", "suppressed")
    }
    expected = {
        "bar": {"bar": 4, "suppressed": 1},
        "negative bar": {"bar": 3},
        "grouped": {"bar": 5, "missing": 1},
        "stacked": {"segment": 16, "missing": 1},
        "pyramid": {"bar": 2 * len(BANDS), "outline": 2},
        "line": {"line": 2, "point": 7},
        "empty": {},
    }[name]
    assert {kind: n for kind, n in counts.items() if n} == expected


def test_output_is_deterministic_and_ids_differ_between_charts() -> None:
    assert str(prevalence_chart()) == str(prevalence_chart())
    ids = [parse(chart).attrib["aria-labelledby"] for chart in all_charts().values()]
    assert len(set(ids)) == len(ids)
    given_id = bar_chart([Bar("A", 1)], title="T", value_label="x", chart_id="diabetes")
    assert parse(given_id).attrib["aria-labelledby"] == "diabetes-title diabetes-desc"
    with pytest.raises(ValueError, match="chart_id"):
        bar_chart([Bar("A", 1)], title="T", value_label="x", chart_id='x" onload="y')


def test_jinja_does_not_escape_a_chart() -> None:
    page = Environment(autoescape=True).from_string("<div>{{ chart }}</div>")
    assert page.render(chart=prevalence_chart()).startswith("<div><svg ")


@pytest.mark.parametrize(
    "chart",
    [
        bar_chart([], title="T", value_label="x"),
        grouped_bar_chart([], ["A"], [], title="T", value_label="x"),
        stacked_bar_chart([], SEGMENTS, [], title="T"),
        population_pyramid([], [], [], title="T"),
        line_chart([], [], title="T", value_label="x"),
        line_chart(["2024"], [Series("A", [None])], title="T", value_label="x"),
    ],
)
def test_an_empty_chart_says_no_data(chart: Markup) -> None:
    root = parse(chart)
    assert "No data" in texts(root)
    assert "".join(root.find(f"{SVG}desc").itertext()) == "No data to show."  # type: ignore[union-attr]


def test_the_generated_description_summarises_the_data() -> None:
    desc = parse(prevalence_chart()).find(f"{SVG}desc")
    assert desc is not None
    assert desc.text == (
        "Bar chart of Percentage of patients aged 17 and over for 5 categories:"
        " highest Falmouth & Penryn at 15.1%, lowest St Austell at 0.0%;"
        " 1 suppressed; England 9.9%."
    )


def test_inputs_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(ValueError):
        Bar("A", 1.0, suppressed=True)
    with pytest.raises(ValueError):
        Bar("A", 5.0, ci_low=6.0, ci_high=7.0)
    with pytest.raises(ValueError):
        Bar("A", math.nan)
    with pytest.raises(ValueError):
        grouped_bar_chart(["A"], ["x", "y"], [[1.0]], title="T", value_label="v")
    with pytest.raises(ValueError):
        stacked_bar_chart(["A"], ["x"], [[-1.0]], title="T")
    with pytest.raises(ValueError):
        population_pyramid(["0-4"], [1.0], [], title="T")
    with pytest.raises(ValueError):
        line_chart(["2024", "2025"], [Series("A", [1.0])], title="T", value_label="v")
    with pytest.raises(ValueError):
        format_value(1.0, ValueFormat.NUMBER, decimals=-1)


# --- grouped, stacked, pyramid, line -------------------------------------------------------


def test_grouped_bars_are_on_one_scale_with_a_legend() -> None:
    root = parse(all_charts()["grouped"])
    scale = x_scale(root)
    hypertension_expected = bar_by_label(root, "Hypertension, Expected")
    assert number(hypertension_expected, "width") == pytest.approx(
        scale(18.9) - scale(0), abs=TOLERANCE
    )
    recorded = bar_by_label(root, "Hypertension, Recorded")
    assert recorded.attrib["fill"] != hypertension_expected.attrib["fill"]
    assert number(recorded, "y") < number(hypertension_expected, "y")  # legend order
    assert {"Recorded", "Expected"} <= set(texts(root))
    (missing,) = marks(root, "missing")
    assert title_of(missing) == "COPD, Expected: no data"


def test_stacked_bars_each_fill_the_full_width() -> None:
    root = parse(all_charts()["stacked"])
    scale = x_scale(root)
    full = scale(1) - scale(0)
    rows: dict[float, list[ET.Element]] = {}
    for segment in marks(root, "segment"):
        rows.setdefault(number(segment, "y"), []).append(segment)
    assert len(rows) == 2  # the third area has no people, and says so
    for segments in rows.values():
        assert sum(number(s, "width") for s in segments) == pytest.approx(full, abs=TOLERANCE)
        edges = [(number(s, "x"), number(s, "x") + number(s, "width")) for s in segments]
        assert edges[0][0] == pytest.approx(scale(0), abs=TOLERANCE)
        for (_, right), (left, _) in pairwise(edges):
            assert left == pytest.approx(right, abs=TOLERANCE)
    first = marks(root, "segment")[0]
    assert title_of(first) == "Cornwall, Healthy well: 40,000 (41.4%)"
    assert set(SEGMENTS) <= set(texts(root))  # the legend


def test_the_pyramid_puts_males_left_and_females_right() -> None:
    root = parse(all_charts()["pyramid"])
    male = [b for b in marks(root, "bar") if b.attrib["data-side"] == "male"]
    female = [b for b in marks(root, "bar") if b.attrib["data-side"] == "female"]
    assert len(male) == len(female) == len(BANDS)
    male_right = {round(number(b, "x") + number(b, "width"), 1) for b in male}
    female_left = {round(number(b, "x"), 1) for b in female}
    assert len(male_right) == 1 and len(female_left) == 1  # each side grows from the middle
    assert male_right.pop() < female_left.pop()
    assert [t for t in texts(root) if t in ("Male", "Female")] == ["Male", "Female"]
    # One scale for both sides: lengths are proportional to the values.
    by_title = {title_of(b).split(";")[0]: number(b, "width") for b in marks(root, "bar")}
    per_person = by_title["Male, 25-64: 9,000"] / 9000
    assert by_title["Female, 25-64: 9,200"] == pytest.approx(9200 * per_person, abs=TOLERANCE)
    assert by_title["Female, 90+: 390"] == pytest.approx(390 * per_person, abs=TOLERANCE)
    # The oldest band is at the top.
    ys = {title_of(b).split(":")[0]: number(b, "y") for b in male}
    assert ys["Male, 90+"] < ys["Male, 0-4"]
    # The outline is a step line over the same scale, with the values in its tooltip.
    outline = next(o for o in marks(root, "outline") if o.attrib["data-side"] == "female")
    assert "Projected 2035, female: 0-4 1,330" in title_of(outline)
    assert "; Projected 2035: 1,540" in title_of(bar_by_label(root, "Male, 0-4"))


def test_line_chart_points_sit_on_the_y_scale_and_gaps_break_the_line() -> None:
    root = parse(all_charts()["line"])
    ticks = sorted(
        (float(line.attrib["data-tick"]), number(line, "y1"))
        for line in root.iter(f"{SVG}line")
        if "data-tick" in line.attrib
    )
    (v0, y0), (v1, y1) = ticks[0], ticks[-1]
    assert v0 == 0 and v1 >= 55600

    def y(value: float) -> float:
        return y0 + (value - v0) / (v1 - v0) * (y1 - y0)

    points = marks(root, "point")
    circle = next(p for p in points if title_of(p) == "Emergency admissions, 2027: 55,600")
    assert number(circle, "cy") == pytest.approx(y(55600), abs=TOLERANCE)
    square = next(p for p in points if title_of(p) == "Elective admissions, 2024: 41,000")
    assert square.tag == f"{SVG}rect"  # shapes differ by series, not only colour
    assert number(square, "y") + 4 == pytest.approx(y(41000), abs=TOLERANCE)
    emergency = next(m for m in marks(root, "line") if title_of(m).startswith("Emergency"))
    assert emergency.attrib["d"].count("M") == 2  # the missing 2026 leaves a gap
    assert {"2024", "2025", "2026", "2027"} <= set(texts(root))


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 1, (0, 0.2, 0.4, 0.6, 0.8, 1)),
        (0, 0.3, (0, 0.1, 0.2, 0.3)),
        (0, 0.23, (0, 0.05, 0.1, 0.15, 0.2, 0.25)),
        (0, 16.2, (0, 5, 10, 15, 20)),
        (-12, 4.25, (-15, -10, -5, 0, 5)),
        (0, 0, (0, 0.2, 0.4, 0.6, 0.8, 1)),
        (0, 9200, (0, 2000, 4000, 6000, 8000, 10000)),
    ],
)
def test_nice_ticks(low: float, high: float, expected: tuple[float, ...]) -> None:
    # Exactly equal, not approximately: the ticks carry no float noise.
    assert nice_ticks(low, high) == expected


def test_nice_ticks_for_counts_are_whole() -> None:
    assert nice_ticks(0, 3, integer=True) == (0, 1, 2, 3)


@settings(max_examples=300, deadline=None)
@given(
    st.floats(-1e7, 1e7, allow_nan=False, allow_infinity=False, allow_subnormal=False),
    st.floats(-1e7, 1e7, allow_nan=False, allow_infinity=False, allow_subnormal=False),
    st.integers(1, 8),
)
def test_nice_ticks_cover_the_data_in_even_round_steps(
    low: float, high: float, target: int
) -> None:
    # Spans finer than a float can step through at that magnitude are not data.
    assume(low == high or abs(high - low) > 1e-9 * max(abs(low), abs(high)))
    ticks = nice_ticks(low, high, target=target)
    assert ticks[0] <= min(low, high) and ticks[-1] >= max(low, high)
    assert 2 <= len(ticks) <= 2 * target + 3
    steps = [b - a for a, b in pairwise(ticks)]
    assert max(steps) == pytest.approx(min(steps), rel=1e-6)
    # A round step: 1, 2, 2.5 or 5 times a power of ten.
    mantissa = f"{steps[0]:.6e}".split("e")[0]
    assert mantissa in {"1.000000", "2.000000", "2.500000", "5.000000"}


@pytest.mark.parametrize(
    ("value", "value_format", "expected"),
    [
        (12345.6, ValueFormat.COUNT, "12,346"),
        (12.34, ValueFormat.PERCENT, "12.3%"),
        (0.145, ValueFormat.SHARE, "14.5%"),
        (4.25, ValueFormat.NUMBER, "4.3"),
        (-0.04, ValueFormat.PERCENT, "0.0%"),
        (12.34, ValueFormat.PER_1000, "12.3 per 1,000"),
        (1234.5, ValueFormat.PER_100000, "1,234.5 per 100,000"),
    ],
)
def test_format_value(value: float, value_format: ValueFormat, expected: str) -> None:
    assert format_value(value, value_format) == expected


# --- the PDF path --------------------------------------------------------------------------


def test_every_chart_renders_to_pdf_with_weasyprint(caplog: pytest.LogCaptureFixture) -> None:
    weasyprint = pytest.importorskip("weasyprint")
    body = "".join(f"<h2>{name}</h2>{chart}" for name, chart in all_charts().items())
    html = f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = weasyprint.HTML(string=html).write_pdf()
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 10_000
    # WeasyPrint logs what it cannot draw (an unsupported SVG feature) rather than failing.
    assert not [record for record in caplog.records if record.name.startswith("weasyprint")]
