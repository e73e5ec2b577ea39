"""The MDC SPC chart and icons: points coloured by type, lines where the numbers say,
icons present and named, text escaped, output deterministic, and it converts to PNG.

Each chart is parsed as XML and read back through its own y axis (the gridlines carry their
tick values in ``data-tick``), so a line's height is checked against the scale the reader
sees rather than against numbers copied from the implementation.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import cairosvg
import pytest
from markupsafe import Markup

from joinedup.oversight.spc import AssuranceIcon, SpcResult, VariationIcon, xmr
from joinedup.web.charts import ValueFormat
from joinedup.web.spc_chart import (
    POINT_COLOURS,
    assurance_icon,
    point_label,
    spc_chart,
    variation_icon,
    x_labels_for,
)

SVG = "{http://www.w3.org/2000/svg}"
TOLERANCE = 0.02  # coordinates are written to two decimals


def months(n: int, start: date = date(2023, 4, 1)) -> list[date]:
    return [
        date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1)
        for i in range(n)
    ]


VALUES = [5, 6] * 10 + [10, 5, 6, 1, 5, 6]
DATES = months(len(VALUES))


def result(**kwargs: object) -> SpcResult:
    arguments: dict[str, object] = {"improvement": "increase", **kwargs}
    return xmr(VALUES, DATES, **arguments)  # type: ignore[arg-type]


def parse(svg: Markup) -> ET.Element:
    return ET.fromstring(str(svg))


def marks(root: ET.Element, kind: str) -> list[ET.Element]:
    return [el for el in root.iter() if el.get("data-mark") == kind]


def y_of(root: ET.Element, value: float) -> float:
    """The pixel height of ``value`` on the chart's own y axis, from two gridlines."""
    grid = [
        (float(el.get("data-tick", "")), float(el.get("y1", "")))
        for el in root.iter(f"{SVG}line")
        if el.get("data-tick")
    ]
    (v0, y0), (v1, y1) = grid[0], grid[-1]
    return y0 + (value - v0) / (v1 - v0) * (y1 - y0)


def line_y(group: ET.Element) -> float:
    line = group.find(f"{SVG}line")
    assert line is not None and line.get("y1") == line.get("y2")
    return float(line.get("y1", ""))


def title_of(el: ET.Element) -> str:
    title = el.find(f"{SVG}title")
    assert title is not None, f"{el.tag} {el.attrib} has no title"
    return title.text or ""


def test_it_is_an_accessible_svg() -> None:
    root = parse(spc_chart(result(), title="Four-hour performance"))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    ids = (root.get("aria-labelledby") or "").split()
    assert [child.tag for child in root[:2]] == [f"{SVG}title", f"{SVG}desc"]
    assert [child.get("id") for child in root[:2]] == ids
    assert root[0].text == "Four-hour performance"
    description = root[1].text or ""
    assert "26 points from Apr 2023 to May 2025" in description
    assert "Common cause variation." in description
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"


def test_points_are_coloured_by_type() -> None:
    spc = result()
    root = parse(spc_chart(spc, title="t"))
    points = marks(root, "point")
    assert len(points) == len(spc.points)
    for drawn, point in zip(points, spc.points, strict=True):
        assert drawn.get("data-point-type") == point.point_type.value
        assert drawn.get("fill") == POINT_COLOURS[point.point_type][0]
        assert float(drawn.get("cy", "")) == pytest.approx(y_of(root, point.value), abs=TOLERANCE)
        assert point_label(point) in title_of(drawn)
    types = {p.get("data-point-type") for p in points}
    assert types == {"common_cause", "special_cause_improvement", "special_cause_concern"}
    improvement = next(p for p in points if p.get("data-point-type") == "special_cause_improvement")
    assert improvement.get("fill") == "#00b0f0"
    expected = "Dec 2024: 10.0; special cause improvement: above the upper process limit"
    assert title_of(improvement) == expected
    # special-cause dots are larger, so the signal is not told by colour alone
    common = next(p for p in points if p.get("data-point-type") == "common_cause")
    assert float(improvement.get("r", "")) > float(common.get("r", ""))


def test_neutral_points_are_purple() -> None:
    root = parse(spc_chart(result(improvement="neutral"), title="t"))
    fills = {p.get("data-point-type"): p.get("fill") for p in marks(root, "point")}
    assert fills["special_cause_neutral_high"] == fills["special_cause_neutral_low"] == "#490092"
    legend = [t.text for t in root.iter(f"{SVG}text")]
    assert legend.count("Neither improvement nor concern") == 1  # one entry for both sides


def test_mean_and_limits_are_at_the_right_height() -> None:
    spc = result()
    root = parse(spc_chart(spc, title="t"))
    segment = spc.latest
    (mean,) = marks(root, "mean")
    assert line_y(mean) == pytest.approx(y_of(root, segment.mean), abs=TOLERANCE)
    limits = {el.get("data-side"): el for el in marks(root, "limit")}
    assert line_y(limits["upper"]) == pytest.approx(
        y_of(root, segment.upper_process_limit), abs=TOLERANCE
    )
    assert line_y(limits["lower"]) == pytest.approx(
        y_of(root, segment.lower_process_limit), abs=TOLERANCE
    )
    for limit in limits.values():
        line = limit.find(f"{SVG}line")
        assert line is not None and line.get("stroke-dasharray")  # dashed
    mean_line = mean.find(f"{SVG}line")
    assert mean_line is not None and mean_line.get("stroke-dasharray") is None  # solid
    assert marks(root, "target") == [] and marks(root, "rebase") == []


def test_the_target_is_a_red_dashed_line() -> None:
    spc = result(target=7.5)
    root = parse(spc_chart(spc, title="t", value_format=ValueFormat.NUMBER))
    (target,) = marks(root, "target")
    line = target.find(f"{SVG}line")
    assert line is not None and line.get("stroke") == "#d5281b" and line.get("stroke-dasharray")
    assert line_y(target) == pytest.approx(y_of(root, 7.5), abs=TOLERANCE)
    assert title_of(target) == "Target: 7.5"


def test_each_rebased_segment_has_its_own_mean_and_limits() -> None:
    values = [5, 6] * 8 + [9, 10] * 8
    dates = months(32)
    spc = xmr(values, dates, improvement="increase", rebase=[dates[16]])
    root = parse(spc_chart(spc, title="t"))
    means = marks(root, "mean")
    assert [line_y(m) for m in means] == pytest.approx(
        [y_of(root, 5.5), y_of(root, 9.5)], abs=TOLERANCE
    )
    assert len(marks(root, "limit")) == 4
    (rebase,) = marks(root, "rebase")
    assert title_of(rebase).startswith("Rebased from Aug 2024")
    # the value line breaks at the rebase, as the package draws it
    assert len(marks(root, "line")) == 2
    # segments' lines do not overlap in x
    first, second = (m.find(f"{SVG}line") for m in means)
    assert first is not None and second is not None
    assert float(first.get("x2", "")) < float(second.get("x1", ""))


@pytest.mark.parametrize(
    ("kwargs", "variation", "assurance"),
    [
        ({}, VariationIcon.COMMON_CAUSE, None),
        ({"target": 20.0}, VariationIcon.COMMON_CAUSE, AssuranceIcon.CONSISTENT_FAIL),
        ({"target": 5.5}, VariationIcon.COMMON_CAUSE, AssuranceIcon.INCONSISTENT),
    ],
)
def test_icons_are_drawn_in_the_corner_and_named(
    kwargs: dict[str, object], variation: VariationIcon, assurance: AssuranceIcon | None
) -> None:
    spc = result(**kwargs)
    root = parse(spc_chart(spc, title="t"))
    icons = marks(root, "icon")
    assert [icon.get("data-icon") for icon in icons] == [
        variation.value,
        *([assurance.value] if assurance else []),
    ]
    assert title_of(icons[0]) == variation.label
    if assurance:
        assert title_of(icons[1]) == assurance.label
    width = float(root.get("width", ""))
    for icon in icons:  # top right
        x, y = (float(n) for n in (icon.get("transform") or "").split("(")[1].split(")")[0].split())
        assert x > width / 2 and y < 60


def test_the_latest_special_cause_gives_its_icon() -> None:
    spc = xmr([5, 6] * 10 + [1], improvement="increase")
    (icon, *_) = marks(parse(spc_chart(spc, title="t")), "icon")
    assert icon.get("data-icon") == "special_cause_concern_low"
    assert title_of(icon) == "Special cause variation: concern (lower)"


def test_every_mark_has_a_tooltip_and_no_css() -> None:
    values = [5, 6] * 8 + [9, 10] * 8
    dates = months(32)
    spc = xmr(values, dates, improvement="increase", target=8, rebase=[dates[16]])
    svg = str(spc_chart(spc, title="t"))
    root = ET.fromstring(svg)
    kinds = {el.get("data-mark") for el in root.iter()} - {None}
    assert {"point", "line", "mean", "limit", "target", "rebase", "icon", "limit-label"} <= kinds
    for el in root.iter():
        if el.get("data-mark") in kinds:
            assert title_of(el)
        assert el.get("class") is None and el.get("style") is None
    assert "<style" not in svg and "foreignObject" not in svg
    # no title inside a text element (WeasyPrint would draw it)
    assert all(text.find(f"{SVG}title") is None for text in root.iter(f"{SVG}text"))


def test_monthly_dates_are_labelled_like_apr_2023() -> None:
    root = parse(spc_chart(result(), title="t"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Apr 2023" in texts
    assert x_labels_for(result().points)[:2] == ("Apr 2023", "May 2023")


def test_other_labels() -> None:
    days = [date(2024, 1, 2), date(2024, 1, 9), date(2024, 1, 16)]
    assert x_labels_for(xmr([1, 2, 3], days, improvement="increase").points) == (
        "2 Jan 2024",
        "9 Jan 2024",
        "16 Jan 2024",
    )
    assert x_labels_for(xmr([1, 2, 3], improvement="increase").points) == ("1", "2", "3")
    custom = spc_chart(xmr([1, 2, 3], improvement="increase"), title="t", x_labels=["a", "b", "c"])
    assert "b" in [t.text for t in parse(custom).iter(f"{SVG}text")]
    with pytest.raises(ValueError, match="2 x labels for 3 points"):
        spc_chart(xmr([1, 2, 3], improvement="increase"), title="t", x_labels=["a", "b"])


def test_share_values_are_written_as_percentages() -> None:
    spc = xmr([0.81, 0.79, 0.8, 0.78, 0.82, 0.8], months(6), improvement="increase", target=0.95)
    root = parse(spc_chart(spc, title="t", value_format=ValueFormat.SHARE))
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "95.0%" in texts  # the target, labelled at the right
    assert any(t.endswith("%") and t[0].isdigit() for t in texts)
    assert "target 95.0%" in (root[1].text or "")


def test_labels_are_escaped() -> None:
    nasty = 'A&E <script>alert("x")</script> \x01'
    svg = str(spc_chart(result(), title=nasty, value_label=nasty, show_title=True))
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert root[0].text == 'A&E <script>alert("x")</script>'
    assert any("A&E <script>" in (t.text or "") for t in root.iter(f"{SVG}text"))


def test_output_is_deterministic() -> None:
    one = spc_chart(result(target=7), title="t")
    two = spc_chart(result(target=7), title="t")
    assert one == two
    other = spc_chart(result(target=8), title="t")
    assert parse(one).get("aria-labelledby") != parse(other).get("aria-labelledby")
    with pytest.raises(ValueError, match="not a usable XML id"):
        spc_chart(result(), title="t", chart_id="1 bad")


def test_trial_limits_are_captioned() -> None:
    short = xmr([1, 2, 1, 2, 3], months(5), improvement="increase")
    texts = [t.text or "" for t in parse(spc_chart(short, title="t")).iter(f"{SVG}text")]
    assert any(t.startswith("Trial limits") for t in texts)
    full = [t.text or "" for t in parse(spc_chart(result(), title="t")).iter(f"{SVG}text")]
    assert not any(t.startswith("Trial limits") for t in full)


def test_a_flat_series_still_draws() -> None:
    root = parse(spc_chart(xmr([3.0] * 6, improvement="increase"), title="t"))
    assert len(marks(root, "point")) == 6
    assert len({line_y(el) for el in marks(root, "limit")}) == 1


def test_it_converts_to_png() -> None:
    png = cairosvg.svg2png(bytestring=str(spc_chart(result(target=7), title="t")).encode())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# --- the icons on their own -------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(VariationIcon))
def test_variation_icons(kind: VariationIcon) -> None:
    root = parse(variation_icon(kind, size=32))
    assert root.get("role") == "img" and root.get("width") == "32"
    (title,) = root.findall(f"{SVG}title")
    assert title.get("id") == root.get("aria-labelledby") and title.text == kind.label
    letters = [t.text for t in root.iter(f"{SVG}text")]
    if kind is VariationIcon.COMMON_CAUSE:
        assert letters == []
    else:
        assert letters == ["H" if kind.value.endswith("high") else "L"]
        colour = {"improvement": "#0072c6", "concern": "#e46c0a", "neither": "#8000c0"}
        ring = root.find(f"{SVG}circle")
        assert ring is not None and ring.get("stroke") == colour[kind.value.split("_")[2]]


@pytest.mark.parametrize(
    ("kind", "letter", "colour"),
    [
        (AssuranceIcon.CONSISTENT_PASS, "P", "#0072c6"),
        (AssuranceIcon.CONSISTENT_FAIL, "F", "#e46c0a"),
        (AssuranceIcon.INCONSISTENT, "?", "#7f7f7f"),
    ],
)
def test_assurance_icons(kind: AssuranceIcon, letter: str, colour: str) -> None:
    root = parse(assurance_icon(kind))
    assert root.find(f"{SVG}title") is not None
    assert title_of(root) == kind.label
    (text,) = root.iter(f"{SVG}text")
    assert text.text == letter and text.get("fill") == colour


def test_icons_take_their_names_as_strings_and_refuse_others() -> None:
    assert variation_icon("common_cause") == variation_icon(VariationIcon.COMMON_CAUSE)
    assert "P" in str(assurance_icon("consistent_pass"))
    with pytest.raises(ValueError):
        variation_icon("improvement")
    with pytest.raises(ValueError):
        assurance_icon("pass")
    with pytest.raises(ValueError, match="positive"):
        variation_icon("common_cause", size=0)
    png = cairosvg.svg2png(bytestring=str(assurance_icon("inconsistent")).encode())
    assert png[:4] == b"\x89PNG"
