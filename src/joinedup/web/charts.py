"""Small server-side SVG charts for the population-health pages and the PDF report.

Each chart function returns a :class:`markupsafe.Markup` holding one ``<svg>`` element, so a
Jinja template can write ``{{ chart }}`` without escaping it. The same SVG goes into the web
page (Chromium and other browsers) and into the PDF (WeasyPrint's own SVG renderer), so the
charts keep to what both draw the same way:

- explicit ``width``, ``height`` and ``viewBox``; presentation attributes (``fill="..."``),
  never CSS classes or ``<style>``; no ``foreignObject``, no JavaScript;
- text baselines computed here rather than with ``dominant-baseline``, which WeasyPrint only
  partly supports;
- ``<title>`` tooltips on ``<g>`` or shape elements, never inside ``<text>``: WeasyPrint
  would draw a title's text as part of the text around it.

They are accessible: ``role="img"`` with ``aria-labelledby`` pointing at a ``<title>`` and a
``<desc>`` (a one-sentence summary, generated from the data unless the caller passes one);
every data mark has a ``<title>`` giving its exact value; labels, legends, marker shapes
and the side of a pyramid mean nothing depends on colour alone. Colours are NHS.UK palette
colours: bar and line colours have at least 3:1 contrast with the white ground; the two
light segment colours of a stacked bar (warm yellow, light green) have less, so they carry
dark text and an outlined legend swatch. Pages still show the figures in a table of their
own: a chart is not the only way to read them.

``data-mark`` (bar, whisker, reference, suppressed, missing, segment, outline, line, point),
``data-side`` and ``data-tick`` attributes name the parts, for tests and for anyone reading
the SVG back; browsers and WeasyPrint ignore them.

Labels come from data, so every piece of text is escaped, and characters XML cannot hold
are dropped. Output is deterministic: the same input gives the same bytes (coordinates are
written to two decimal places, ids are derived from the input).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

from markupsafe import Markup

from joinedup.web import svg
from joinedup.web.svg import (
    FONT_FAMILY,
    FONT_SIZE,
    NHS_AQUA_GREEN,
    NHS_BLUE,
    NHS_DARK_BLUE,
    NHS_DARK_GREY,
    NHS_GREEN,
    NHS_GREY_4,
    NHS_LIGHT_GREEN,
    NHS_MID_GREY,
    NHS_PINK,
    NHS_PURPLE,
    NHS_RED,
    NHS_TEXT,
    NHS_WARM_YELLOW,
    NHS_WHITE,
    SMALL_FONT_SIZE,
)

__all__ = [
    "FONT_FAMILY",
    "SEGMENT_COLOURS",
    "SERIES_COLOURS",
    "Bar",
    "PyramidOutline",
    "ReferenceLine",
    "Series",
    "ValueFormat",
    "bar_chart",
    "format_value",
    "grouped_bar_chart",
    "line_chart",
    "nice_ticks",
    "population_pyramid",
    "stacked_bar_chart",
]

#: Colours for series that are told apart by colour plus a legend (bars, lines), in order.
#: Each has at least 3:1 contrast with white, so a bar or a line stands out from the page.
SERIES_COLOURS: tuple[str, ...] = (
    NHS_BLUE,
    NHS_AQUA_GREEN,
    NHS_PURPLE,
    NHS_PINK,
    NHS_MID_GREY,
    NHS_RED,
    NHS_DARK_BLUE,
    NHS_GREEN,
)

#: Colours for the segments of a 100% stacked bar (up to 8 categories). Neighbours differ
#: in lightness as well as hue, and segments are separated by white gaps; the light ones get
#: dark text and an outline in the legend.
SEGMENT_COLOURS: tuple[str, ...] = (
    NHS_BLUE,
    NHS_WARM_YELLOW,
    NHS_PURPLE,
    NHS_AQUA_GREEN,
    NHS_RED,
    NHS_LIGHT_GREEN,
    NHS_DARK_GREY,
    NHS_PINK,
)

DEFAULT_WIDTH = 640
PADDING = 8
TITLE_HEIGHT = 26
LEGEND_ROW_HEIGHT = 22
AXIS_HEIGHT = 44  # tick labels and the axis title under the bars

_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


# --- inputs -----------------------------------------------------------------------------


class ValueFormat(StrEnum):
    """How values are written on a chart.

    ``PERCENT`` takes percentages (12.3 means 12.3%); ``SHARE`` takes fractions (0.123 means
    12.3%), as the pages' ``percent`` filter does.
    """

    COUNT = "count"
    PERCENT = "percent"
    SHARE = "share"
    PER_1000 = "per_1000"
    PER_100000 = "per_100000"
    NUMBER = "number"


_DEFAULT_DECIMALS = {
    ValueFormat.COUNT: 0,
    ValueFormat.PERCENT: 1,
    ValueFormat.SHARE: 1,
    ValueFormat.PER_1000: 1,
    ValueFormat.PER_100000: 1,
    ValueFormat.NUMBER: 1,
}
_UNITS = {ValueFormat.PER_1000: " per 1,000", ValueFormat.PER_100000: " per 100,000"}


def _finite(value: float, what: str) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")


@dataclass(frozen=True)
class Bar:
    """One bar of :func:`bar_chart`.

    ``value`` is None when there is no figure: ``suppressed=True`` says it was withheld
    (small numbers) and is drawn as a hatched stub labelled "suppressed"; otherwise the bar
    is labelled "no data". ``ci_low`` and ``ci_high`` (both or neither) are drawn as whiskers.
    """

    label: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    suppressed: bool = False

    def __post_init__(self) -> None:
        if self.suppressed and self.value is not None:
            raise ValueError(f"bar {self.label!r} is suppressed but has a value")
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError(f"bar {self.label!r} needs both ci_low and ci_high, or neither")
        for name in ("value", "ci_low", "ci_high"):
            number = getattr(self, name)
            if number is not None:
                _finite(number, f"{name} of bar {self.label!r}")
        if self.ci_low is not None and self.ci_high is not None:
            if self.value is None:
                raise ValueError(f"bar {self.label!r} has a confidence interval but no value")
            if not self.ci_low <= self.value <= self.ci_high:
                raise ValueError(f"bar {self.label!r}: need ci_low <= value <= ci_high")

    @property
    def shown(self) -> bool:
        """Whether the bar has a value to draw."""
        return self.value is not None


@dataclass(frozen=True)
class ReferenceLine:
    """A labelled vertical line across a bar chart, such as the ICS average or England."""

    value: float
    label: str

    def __post_init__(self) -> None:
        _finite(self.value, f"reference {self.label!r}")


@dataclass(frozen=True)
class Series:
    """One line of :func:`line_chart`: a name and one value (or None, a gap) per x label."""

    name: str
    values: Sequence[float | None] = field(default=())

    def __post_init__(self) -> None:
        # Any sequence is accepted, kept as a tuple so the dataclass stays hashable and frozen.
        object.__setattr__(self, "values", tuple(self.values))
        for value in self.values:
            if value is not None:
                _finite(value, f"a value of series {self.name!r}")


@dataclass(frozen=True)
class PyramidOutline:
    """A second population drawn over a pyramid as a step line (a projection, or England).

    Its values must be in the same units as the pyramid's bars (both counts, or both
    percentages of their own population).
    """

    label: str
    male: Sequence[float]
    female: Sequence[float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "male", tuple(self.male))
        object.__setattr__(self, "female", tuple(self.female))
        for value in (*self.male, *self.female):
            _finite(value, f"a value of {self.label!r}")
            if value < 0:
                raise ValueError(f"{self.label!r} has a negative value")


# --- numbers ----------------------------------------------------------------------------


def format_value(value: float, value_format: ValueFormat, decimals: int | None = None) -> str:
    """``value`` written in full, as in tooltips: ``12.3%``, ``4.5 per 1,000``, ``12,345``."""
    return _Format(ValueFormat(value_format), decimals).full(value)


@dataclass(frozen=True)
class _Format:
    kind: ValueFormat
    decimals: int | None = None

    def __post_init__(self) -> None:
        if self.decimals is not None and not 0 <= self.decimals <= 6:
            raise ValueError(f"decimals must be 0 to 6, not {self.decimals}")

    @property
    def places(self) -> int:
        return _DEFAULT_DECIMALS[self.kind] if self.decimals is None else self.decimals

    def _display(self, value: float) -> float:
        return value * 100 if self.kind is ValueFormat.SHARE else value

    def _write(self, value: float, places: int) -> str:
        # Decimal from the shortest repr, rounded half up: 4.25 is written 4.3 and a share
        # of 0.145 is 14.5% (float formatting would give 4.2 and 14.499...%), as people
        # rounding by hand and published NHS statistics do.
        shown = Decimal(repr(value))
        if self.kind is ValueFormat.SHARE:
            shown = shown.scaleb(2)
        shown = shown.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if shown == 0:
            shown = abs(shown)  # no "-0.0%"
        text = f"{shown:,.{places}f}"
        if self.kind in (ValueFormat.PERCENT, ValueFormat.SHARE):
            text += "%"
        return text

    def short(self, value: float) -> str:
        """At a bar's end or on an axis: the unit is in the axis title, so left off."""
        return self._write(value, self.places)

    def full(self, value: float) -> str:
        """In a tooltip or the description, where nothing else gives the unit."""
        return self._write(value, self.places) + _UNITS.get(self.kind, "")

    def tick(self, value: float, places: int) -> str:
        return self._write(value, places)

    def tick_places(self, ticks: Sequence[float]) -> int:
        """The fewest decimals that write every tick exactly (0, 2.5, 5 needs one)."""
        shown = [self._display(tick) for tick in ticks]
        for places in range(7):
            if all(abs(v - round(v, places)) < 1e-9 * max(1.0, abs(v)) for v in shown):
                return places
        return 6


def nice_ticks(
    low: float, high: float, *, target: int = 5, integer: bool = False
) -> tuple[float, ...]:
    """Evenly spaced round tick values (steps of 1, 2, 2.5 or 5 times a power of ten).

    The first tick is at or below ``low`` and the last at or above ``high``, so the ticks
    cover the data; about ``target`` intervals. ``integer`` keeps steps whole (for counts of
    people). Equal ``low`` and ``high`` are widened (to 0..1 when both are 0).
    """
    _finite(low, "low")
    _finite(high, "high")
    if low > high:
        low, high = high, low
    if low == high:
        if low == 0:
            high = 1.0
        elif low > 0:
            low = 0.0
        else:
            high = 0.0
    # Decimal throughout: exact powers of ten for any span (floats underflow on tiny ones),
    # and ticks exactly 0.1, 0.2, 0.3, not 0.30000000000000004.
    low_d, high_d = Decimal(repr(low)), Decimal(repr(high))
    raw = (high_d - low_d) / max(target, 1)
    exponent = raw.adjusted()  # floor(log10(raw))
    fraction = raw.scaleb(-exponent)  # 1 <= fraction < 10
    multiple = next(m for m in ("1", "2", "2.5", "5", "10") if fraction <= Decimal(m))
    if integer and multiple == "2.5" and exponent <= 0:
        multiple = "5"  # 2.5 is not whole at this scale; 5 keeps the 1-2-5 rhythm
    step = Decimal(multiple).scaleb(exponent)
    if integer and step < 1:
        step = Decimal(1)
    first = (low_d / step).to_integral_value(rounding=ROUND_FLOOR)
    last = (high_d / step).to_integral_value(rounding=ROUND_CEILING)
    return tuple(float(Decimal(i) * step) for i in range(int(first), int(last) + 1))


def _tick_label_width(ticks: Sequence[float], fmt: _Format) -> float:
    places = fmt.tick_places(ticks)
    return max(svg.text_width(fmt.tick(tick, places), SMALL_FONT_SIZE) for tick in ticks)


def _ticks_that_fit(
    low: float, high: float, fmt: _Format, room: Callable[[tuple[float, ...]], float]
) -> tuple[tuple[float, ...], int]:
    """Ticks for an axis whose labels do not crowd each other, and which of them to label.

    ``room`` gives the axis length in pixels for a set of ticks (it can depend on the
    labels' width). Tries the most ticks (about 6) first, then fewer. When the labels of
    fine ticks only fit on every other one, that is kept if coarser ticks would run the
    axis further past the data (0 to 25,000 labelled every 10,000 beats 0 to 30,000).
    Returns the ticks and ``every``: label the ticks at multiples of ``every`` steps.
    """
    integer = fmt.kind is ValueFormat.COUNT
    alternate: tuple[float, ...] | None = None
    ticks: tuple[float, ...] = ()
    for target in (6, 5, 4, 3, 2, 1):
        ticks = nice_ticks(low, high, target=target, integer=integer)
        if len(ticks) < 2:
            break
        spacing = room(ticks) / (len(ticks) - 1)
        needed = _tick_label_width(ticks, fmt) + 12
        if spacing >= needed:
            break
        if alternate is None and 2 * spacing >= needed and len(ticks) > 3:
            alternate = ticks
    if alternate is not None and alternate[-1] - alternate[0] < ticks[-1] - ticks[0]:
        return alternate, 2
    return ticks, 1


def _labelled(ticks: Sequence[float], every: int) -> list[bool]:
    """Which ticks get a label: multiples of ``every`` steps from 0, so 0 always has one."""
    if every == 1 or len(ticks) < 2:
        return [True] * len(ticks)
    step = ticks[1] - ticks[0]
    return [round(tick / step) % every == 0 for tick in ticks]


def _check_colours(colours: Sequence[str], minimum: int) -> tuple[str, ...]:
    for colour in colours:
        if not _HEX_COLOUR.fullmatch(colour):
            raise ValueError(f"colour {colour!r} is not #rrggbb")
    if len(colours) < minimum:
        raise ValueError(f"need at least {minimum} colours, got {len(colours)}")
    return tuple(colour.lower() for colour in colours)


def _empty_chart(
    *,
    chart_id: str,
    title: str,
    description: str | None,
    width: float,
    font_family: str,
    show_title: bool,
    message: str = "No data",
) -> Markup:
    """A chart that says there is nothing to show, in the same frame as a real one."""
    body, top = _heading(show_title, title, width)
    height = top + 96
    body.append(
        svg.el(
            "rect",
            {
                "x": PADDING,
                "y": top + PADDING,
                "width": width - 2 * PADDING,
                "height": height - top - 2 * PADDING,
                "fill": NHS_WHITE,
                "stroke": NHS_GREY_4,
            },
        )
    )
    body.append(svg.text(width / 2, top + 48, message, anchor="middle", fill=NHS_DARK_GREY))
    return svg.document(
        chart_id=chart_id,
        title=title,
        description=description or f"{message} to show.",
        width=width,
        height=height,
        body=body,
        font_family=font_family,
    )


def _value_axis(
    scale: svg.Scale,
    ticks: Sequence[float],
    fmt: _Format,
    *,
    top: float,
    bottom: float,
    title: str,
    chart_width: float,
    every: int = 1,
    mirror: svg.Scale | None = None,
) -> list[str]:
    """Vertical gridlines, the zero line, tick labels and the axis title under the plot.

    ``every`` labels only some ticks (see :func:`_ticks_that_fit`); ``mirror`` draws the
    same ticks a second time on another scale (a pyramid's other half).
    """
    labelled_ticks = _labelled(ticks, every)
    places = fmt.tick_places(
        [tick for tick, shown in zip(ticks, labelled_ticks, strict=True) if shown]
    )
    grid, labels = [], []
    for each in (scale, mirror) if mirror else (scale,):
        for tick, labelled in zip(ticks, labelled_ticks, strict=True):
            x = each(tick)
            colour = NHS_DARK_GREY if tick == 0 else NHS_GREY_4
            grid.append(svg.gridline(tick, x, top, x, bottom, colour))
            if not labelled:
                continue
            labels.append(
                svg.text(
                    x,
                    bottom + 12,
                    fmt.tick(tick, places),
                    size=SMALL_FONT_SIZE,
                    anchor="middle",
                    fill=NHS_DARK_GREY,
                )
            )
    left = min(scale.pixels + (mirror.pixels if mirror else ()))
    right = max(scale.pixels + (mirror.pixels if mirror else ()))
    baseline = svg.el(
        "line", {"x1": left, "x2": right, "y1": bottom, "y2": bottom, "stroke": NHS_DARK_GREY}
    )
    parts = [*grid, baseline, *labels]
    if title:
        # Centred under the plot, but free to use the chart's whole width when it is long.
        room = chart_width - 2 * PADDING
        half = svg.text_width(svg.fit(svg.clean(title), room, 13), 13) / 2
        x = min(max((left + right) / 2, PADDING + half), chart_width - PADDING - half)
        parts.append(svg.label(x, bottom + 32, title, room, anchor="middle", size=13))
    return parts


@dataclass(frozen=True)
class _LegendItem:
    label: str
    colour: str
    kind: str = "swatch"  # a filled square, or "line" for a short line
    marker: str | None = None  # a line chart's point shape, drawn on the line


def _legend(items: Sequence[_LegendItem], *, x: float, y: float, width: float) -> tuple[str, float]:
    """Legend entries left to right, wrapping onto more rows; returns it and its height."""
    parts: list[str] = []
    cursor, row = x, 0
    for item in items:
        key_width = 20 if item.kind == "swatch" else 30
        label_width = min(svg.text_width(svg.clean(item.label), FONT_SIZE), width - key_width)
        entry_width = key_width + label_width + 18
        if cursor > x and cursor + entry_width > x + width:
            cursor, row = x, row + 1
        middle = y + row * LEGEND_ROW_HEIGHT + LEGEND_ROW_HEIGHT / 2
        if item.kind == "swatch":
            parts.append(
                svg.el(
                    "rect",
                    {
                        "x": cursor,
                        "y": middle - 7,
                        "width": 14,
                        "height": 14,
                        "fill": item.colour,
                        "stroke": svg.outline_for(item.colour),
                    },
                )
            )
        else:
            parts.append(_line_key(cursor, middle, item.colour, item.marker))
        text_x = cursor + key_width
        parts.append(svg.label(text_x, middle, item.label, label_width + 1))
        cursor = text_x + label_width + 18
    return "".join(parts), (row + 1) * LEGEND_ROW_HEIGHT if items else 0


def _line_key(x: float, y: float, colour: str, marker: str | None) -> str:
    line = svg.el(
        "line", {"x1": x, "x2": x + 24, "y1": y, "y2": y, "stroke": colour, "stroke-width": 2.5}
    )
    return line + (_marker(marker, x + 12, y, colour) if marker else "")


def _marker(shape: str, x: float, y: float, colour: str, title: str = "") -> str:
    """A point marker; shapes differ per series so points are told apart without colour."""
    attrs: dict[str, str | float | None] = {
        "fill": colour,
        "stroke": NHS_WHITE,
        "stroke-width": 1.5,
        "data-mark": "point" if title else None,
    }
    content = svg.title(title) if title else ""
    if shape == "circle":
        return svg.el("circle", {"cx": x, "cy": y, "r": 4.5, **attrs}, content)
    if shape == "square":
        return svg.el("rect", {"x": x - 4, "y": y - 4, "width": 8, "height": 8, **attrs}, content)
    if shape == "diamond":
        d = f"M{svg.num(x)} {svg.num(y - 5.5)}L{svg.num(x + 5.5)} {svg.num(y)}L{svg.num(x)} {svg.num(y + 5.5)}L{svg.num(x - 5.5)} {svg.num(y)}Z"
    else:  # triangle
        d = f"M{svg.num(x)} {svg.num(y - 5.5)}L{svg.num(x + 5.5)} {svg.num(y + 4.5)}L{svg.num(x - 5.5)} {svg.num(y + 4.5)}Z"
    return svg.el("path", {"d": d, **attrs}, content)


_MARKER_SHAPES = ("circle", "square", "diamond", "triangle")


def _halo_line(x1: float, y1: float, x2: float, y2: float, width: float) -> str:
    """A white line under a dark one, so the dark one shows on a blue bar too."""
    return svg.el(
        "line",
        {"x1": x1, "x2": x2, "y1": y1, "y2": y2, "stroke": NHS_WHITE, "stroke-width": width},
    )


def _heading(show: bool, title: str, width: float) -> tuple[list[str], float]:
    if not show:
        return [], 0
    return [
        svg.label(PADDING, TITLE_HEIGHT / 2 + 2, title, width - 2 * PADDING, weight="bold", size=16)
    ], TITLE_HEIGHT


def _values_range(values: Sequence[float]) -> tuple[float, float]:
    """The axis range: from 0 (or the lowest value, if negative) to the highest (or 0)."""
    return min(0.0, *values), max(0.0, *values)


def _plain_list(names: Sequence[str]) -> str:
    names = [svg.clean(name) for name in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# --- horizontal bars, shared by bar_chart and grouped_bar_chart ---------------------------


@dataclass(frozen=True)
class _HBar:
    """One drawn horizontal bar, with everything its tooltip and label need."""

    top: float
    height: float
    colour: str
    tooltip: str
    value: float | None
    ci: tuple[float, float] | None = None
    ci_tooltip: str = ""
    suppressed: bool = False


@dataclass(frozen=True)
class _HLayout:
    """Where a horizontal bar chart's parts go."""

    label_right: float  # category labels end here
    label_width: float
    scale: svg.Scale
    ticks: tuple[float, ...]
    every: int = 1  # label every tick, or every other one


def _h_layout(
    *,
    width: float,
    labels: Sequence[str],
    extents: Sequence[float],
    end_labels: Sequence[tuple[float, str]],
    fmt: _Format,
    label_size: float = FONT_SIZE,
) -> _HLayout:
    """Work out the label column, the room for value labels and the value scale."""
    low, high = _values_range(extents) if extents else (0.0, 1.0)

    def plot_length(ticks: tuple[float, ...]) -> float:
        scale = _h_layout_for(width, labels, end_labels, fmt, label_size, ticks).scale
        return scale.pixels[1] - scale.pixels[0]

    ticks, every = _ticks_that_fit(low, high, fmt, plot_length)
    layout = _h_layout_for(width, labels, end_labels, fmt, label_size, ticks)
    return _HLayout(layout.label_right, layout.label_width, layout.scale, ticks, every)


def _h_layout_for(
    width: float,
    labels: Sequence[str],
    end_labels: Sequence[tuple[float, str]],
    fmt: _Format,
    label_size: float,
    ticks: tuple[float, ...],
) -> _HLayout:
    longest = max((svg.text_width(svg.clean(label), label_size) for label in labels), default=0)
    label_width = min(longest, width * 0.35)
    # Value labels sit outside the bar ends: room on the left for negative ones, on the
    # right for the rest; and half the outer tick labels, which are centred on their ticks.
    negative = [svg.text_width(text, SMALL_FONT_SIZE) for value, text in end_labels if value < 0]
    positive = [svg.text_width(text, SMALL_FONT_SIZE) for value, text in end_labels if value >= 0]
    places = fmt.tick_places(ticks)
    left_room = max(
        [w + 6 for w in negative]
        + [svg.text_width(fmt.tick(ticks[0], places), SMALL_FONT_SIZE) / 2]
    )
    right_room = max(
        [w + 8 for w in positive]
        + [svg.text_width(fmt.tick(ticks[-1], places), SMALL_FONT_SIZE) / 2]
    )
    label_right = PADDING + label_width
    x0 = label_right + 10 + left_room
    x1 = width - PADDING - right_room
    if x1 - x0 < width * 0.3:  # a narrow chart: take room from the labels, which truncate
        label_width = max(label_width - (width * 0.3 - (x1 - x0)), 40)
        label_right = PADDING + label_width
        x0 = label_right + 10 + left_room
    return _HLayout(label_right, label_width, svg.Scale((ticks[0], ticks[-1]), (x0, x1)), ticks)


def _draw_hbar(
    bar: _HBar, layout: _HLayout, fmt: _Format, hatch_id: str
) -> tuple[list[str], list[str]]:
    """A bar with its whisker, or a suppressed / no-data stub; and its value label.

    The label comes separately so the caller can draw it over everything else (a reference
    line must not cross out a value).
    """
    scale = layout.scale
    zero = scale(0)
    middle = bar.top + bar.height / 2
    if bar.value is None:
        if bar.suppressed:
            stub = svg.el(
                "rect",
                {
                    "x": zero,
                    "y": bar.top,
                    "width": 18,
                    "height": bar.height,
                    "fill": f"url(#{hatch_id})",
                    "stroke": NHS_MID_GREY,
                    "data-mark": "suppressed",
                },
                svg.title(bar.tooltip),
            )
            note = svg.text(
                zero + 24, middle, "suppressed", size=SMALL_FONT_SIZE, fill=NHS_DARK_GREY
            )
            return [stub], [note]
        note = svg.text(zero + 6, middle, "no data", size=SMALL_FONT_SIZE, fill=NHS_DARK_GREY)
        return [f'<g data-mark="missing">{svg.title(bar.tooltip)}{note}</g>'], []
    value = bar.value
    left, right = round(scale(min(0.0, value)), 2), round(scale(max(0.0, value)), 2)
    parts = [
        svg.el(
            "rect",
            {
                "x": left,
                "y": bar.top,
                "width": right - left,
                "height": bar.height,
                "fill": bar.colour,
                "data-mark": "bar",
            },
            svg.title(bar.tooltip),
        )
    ]
    reach_low, reach_high = value, value
    if bar.ci is not None:
        low, high = bar.ci
        reach_low, reach_high = min(low, value), max(high, value)
        x_low, x_high = scale(low), scale(high)
        cap = min(bar.height / 2 - 1, 6)
        halo = svg.el(
            "path",
            {
                "d": f"M{svg.num(x_low)} {svg.num(middle)}H{svg.num(x_high)}"
                f"M{svg.num(x_low)} {svg.num(middle - cap)}V{svg.num(middle + cap)}"
                f"M{svg.num(x_high)} {svg.num(middle - cap)}V{svg.num(middle + cap)}",
                "fill": "none",
                "stroke": NHS_WHITE,
                "stroke-width": 4,
            },
        )
        line = svg.el(
            "line",
            {
                "x1": x_low,
                "x2": x_high,
                "y1": middle,
                "y2": middle,
                "stroke": NHS_TEXT,
                "stroke-width": 1.5,
            },
        )
        caps = svg.el(
            "path",
            {
                "d": f"M{svg.num(x_low)} {svg.num(middle - cap)}V{svg.num(middle + cap)}"
                f"M{svg.num(x_high)} {svg.num(middle - cap)}V{svg.num(middle + cap)}",
                "fill": "none",
                "stroke": NHS_TEXT,
                "stroke-width": 1.5,
            },
        )
        parts.append(f'<g data-mark="whisker">{svg.title(bar.ci_tooltip)}{halo}{line}{caps}</g>')
    text = fmt.short(value)
    text_width = svg.text_width(text, SMALL_FONT_SIZE)
    if value < 0:
        x = scale(reach_low) - 5
        label = svg.text(x, middle, text, size=SMALL_FONT_SIZE, anchor="end")
        x -= text_width
    else:
        x = scale(reach_high) + 5
        label = svg.text(x, middle, text, size=SMALL_FONT_SIZE)
    # A white box behind the value, so a reference line or gridline never strikes it through.
    box = svg.el(
        "rect",
        {"x": x - 2, "y": middle - 8, "width": text_width + 4, "height": 16, "fill": NHS_WHITE},
    )
    return parts, [box, label]


def _hatch(hatch_id: str) -> str:
    """Diagonal grey hatching for suppressed bars (WeasyPrint draws patterns)."""
    return svg.el(
        "pattern",
        {"id": hatch_id, "patternUnits": "userSpaceOnUse", "width": 6, "height": 6},
        svg.el("rect", {"width": 6, "height": 6, "fill": NHS_WHITE})
        + svg.el(
            "path",
            {
                "d": "M0 6L6 0M-1.5 1.5L1.5 -1.5M4.5 7.5L7.5 4.5",
                "stroke": NHS_MID_GREY,
                "stroke-width": 1.2,
            },
        ),
    )


# --- the charts -------------------------------------------------------------------------


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    value_label: str,
    value_format: ValueFormat = ValueFormat.NUMBER,
    decimals: int | None = None,
    reference: ReferenceLine | None = None,
    description: str | None = None,
    ci_label: str = "95% confidence interval",
    colour: str = NHS_BLUE,
    width: int = DEFAULT_WIDTH,
    show_title: bool = False,
    chart_id: str | None = None,
    font_family: str = FONT_FAMILY,
) -> Markup:
    """Horizontal bars, one per category, in the order given.

    Bars start at 0 (the axis runs from the lowest value when some are negative). Each bar
    has its value at its end and a tooltip with the exact value; ``ci_low``/``ci_high`` are
    drawn as whiskers, suppressed bars as a hatched stub labelled "suppressed". ``reference``
    draws a labelled dashed line (the ICS average, England). ``value_label`` is the axis
    title, and says the unit for per-1,000 rates. ``show_title`` draws ``title`` in the
    chart (for the PDF); on a page the heading above it usually serves, and the SVG's
    ``<title>`` is always there for screen readers. The height follows from the number of
    bars.
    """
    fmt = _Format(ValueFormat(value_format), decimals)
    bars = tuple(bars)
    (colour,) = _check_colours([colour], 1)
    cid = svg.chart_id(
        "bar",
        chart_id,
        bars,
        title,
        value_label,
        fmt,
        reference,
        description,
        ci_label,
        colour,
        width,
        show_title,
    )
    if not bars:
        return _empty_chart(
            chart_id=cid,
            title=title,
            description=description,
            width=width,
            font_family=font_family,
            show_title=show_title,
        )
    shown = [bar for bar in bars if bar.value is not None]
    description = description or _describe_bars(bars, value_label, fmt, reference)
    extents: list[float] = []
    for bar in shown:
        extents += [v for v in (bar.value, bar.ci_low, bar.ci_high) if v is not None]
    if reference is not None:
        extents.append(reference.value)
    end_labels = [(bar.value, fmt.short(bar.value)) for bar in shown if bar.value is not None]
    layout = _h_layout(
        width=width,
        labels=[bar.label for bar in bars],
        extents=extents,
        end_labels=end_labels,
        fmt=fmt,
    )
    body, top = _heading(show_title, title, width)
    row_height, bar_height = 30, 18
    if reference is not None:
        top += 22  # the reference line's label goes above the bars
    top += PADDING
    bottom = top + len(bars) * row_height
    body += _value_axis(
        layout.scale,
        layout.ticks,
        fmt,
        top=top,
        bottom=bottom,
        title=value_label,
        chart_width=width,
        every=layout.every,
    )
    hatch_id = f"{cid}-hatch"
    value_labels: list[str] = []
    for index, bar in enumerate(bars):
        row_top = top + index * row_height
        middle = row_top + row_height / 2
        body.append(
            svg.label(layout.label_right, middle, bar.label, layout.label_width, anchor="end")
        )
        label = svg.clean(bar.label)
        if bar.suppressed:
            tooltip = f"{label}: suppressed (too few to show)"
        elif bar.value is None:
            tooltip = f"{label}: no data"
        else:
            tooltip = f"{label}: {fmt.full(bar.value)}"
        ci = None
        ci_tooltip = ""
        if bar.ci_low is not None and bar.ci_high is not None:
            ci = (bar.ci_low, bar.ci_high)
            ci_text = f"{ci_label} {fmt.full(bar.ci_low)} to {fmt.full(bar.ci_high)}"
            tooltip += f" ({ci_text})"
            ci_tooltip = f"{label}: {ci_text}"
        hbar = _HBar(
            top=row_top + (row_height - bar_height) / 2,
            height=bar_height,
            colour=colour,
            tooltip=tooltip,
            value=bar.value,
            ci=ci,
            ci_tooltip=ci_tooltip,
            suppressed=bar.suppressed,
        )
        marks, labels = _draw_hbar(hbar, layout, fmt, hatch_id)
        body += marks
        value_labels += labels
    if reference is not None:
        body += _reference_line(reference, layout.scale, fmt, top=top, bottom=bottom, width=width)
    body += value_labels
    return svg.document(
        chart_id=cid,
        title=title,
        description=description,
        width=width,
        height=bottom + AXIS_HEIGHT + PADDING,
        body=body,
        font_family=font_family,
        defs=_hatch(hatch_id) if any(bar.suppressed for bar in bars) else "",
    )


def _reference_line(
    reference: ReferenceLine,
    scale: svg.Scale,
    fmt: _Format,
    *,
    top: float,
    bottom: float,
    width: float,
) -> list[str]:
    x = scale(reference.value)
    text = f"{svg.clean(reference.label)}: {fmt.full(reference.value)}"
    line = svg.el(
        "line",
        {
            "x1": x,
            "x2": x,
            "y1": top - 4,
            "y2": bottom,
            "stroke": NHS_TEXT,
            "stroke-width": 2,
            "stroke-dasharray": "6 3",
            "data-mark": "reference",
        },
        svg.title(text),
    )
    # Centre the label on the line, but keep it inside the chart; if it is too long, cut
    # the name rather than the value (the line's tooltip has both in full).
    value = f": {fmt.full(reference.value)}"
    room = width - 2 * PADDING - svg.text_width(value, SMALL_FONT_SIZE, bold=True)
    text = svg.fit(svg.clean(reference.label), room, SMALL_FONT_SIZE, bold=True) + value
    half = svg.text_width(text, SMALL_FONT_SIZE, bold=True) / 2
    label_x = min(max(x, PADDING + half), width - PADDING - half)
    label = svg.text(label_x, top - 14, text, size=SMALL_FONT_SIZE, anchor="middle", weight="bold")
    return [_halo_line(x, top - 4, x, bottom, 5), line, label]


def _describe_bars(
    bars: Sequence[Bar], value_label: str, fmt: _Format, reference: ReferenceLine | None
) -> str:
    shown = [bar for bar in bars if bar.value is not None]
    count = f"{len(bars)} {'category' if len(bars) == 1 else 'categories'}"
    text = f"Bar chart of {svg.clean(value_label)} for {count}"
    if len(shown) == 1 and shown[0].value is not None:
        text += f": {svg.clean(shown[0].label)} {fmt.full(shown[0].value)}"
    elif shown:
        high = max(shown, key=lambda bar: bar.value or 0.0)
        low = min(shown, key=lambda bar: bar.value or 0.0)
        if high.value is not None and low.value is not None:
            text += (
                f": highest {svg.clean(high.label)} at {fmt.full(high.value)},"
                f" lowest {svg.clean(low.label)} at {fmt.full(low.value)}"
            )
    suppressed = sum(bar.suppressed for bar in bars)
    if suppressed:
        text += f"; {suppressed} suppressed"
    if reference is not None:
        text += f"; {svg.clean(reference.label)} {fmt.full(reference.value)}"
    return text + "."


def _matrix(
    rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]]
) -> tuple[tuple[float | None, ...], ...]:
    if len(values) != len(rows):
        raise ValueError(f"values has {len(values)} rows for {len(rows)} groups")
    matrix = []
    for name, row in zip(rows, values, strict=True):
        if len(row) != len(columns):
            raise ValueError(f"{name!r} has {len(row)} values for {len(columns)} series")
        for value in row:
            if value is not None:
                _finite(value, f"a value of {name!r}")
        matrix.append(tuple(row))
    return tuple(matrix)


def grouped_bar_chart(
    groups: Sequence[str],
    series: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    title: str,
    value_label: str,
    value_format: ValueFormat = ValueFormat.NUMBER,
    decimals: int | None = None,
    description: str | None = None,
    colours: Sequence[str] = SERIES_COLOURS,
    width: int = DEFAULT_WIDTH,
    show_title: bool = False,
    chart_id: str | None = None,
    font_family: str = FONT_FAMILY,
) -> Markup:
    """Horizontal bars for several series side by side within each group, with a legend.

    ``values[g][s]`` is series ``s`` in group ``g`` (one row per group, as in a table of
    conditions by recorded and expected prevalence); None draws "no data". The series keep
    the legend's order, top to bottom within each group.
    """
    fmt = _Format(ValueFormat(value_format), decimals)
    groups, series = tuple(groups), tuple(series)
    matrix = _matrix(groups, series, values)
    palette = _check_colours(colours, len(series))
    cid = svg.chart_id(
        "grouped",
        chart_id,
        groups,
        series,
        matrix,
        title,
        value_label,
        fmt,
        description,
        palette,
        width,
        show_title,
    )
    present = [value for row in matrix for value in row if value is not None]
    if not groups or not series:
        return _empty_chart(
            chart_id=cid,
            title=title,
            description=description,
            width=width,
            font_family=font_family,
            show_title=show_title,
        )
    if description is None:
        description = (
            f"Grouped bar chart of {svg.clean(value_label)} for {len(groups)}"
            f" {'group' if len(groups) == 1 else 'groups'}, comparing {_plain_list(series)}"
        )
        if present:
            high = max(
                ((g, s) for g in range(len(groups)) for s in range(len(series))),
                key=lambda gs: matrix[gs[0]][gs[1]] or -math.inf,
            )
            top_value = matrix[high[0]][high[1]]
            if top_value is not None:
                description += (
                    f"; highest {svg.clean(series[high[1]])} for {svg.clean(groups[high[0]])}"
                    f" at {fmt.full(top_value)}"
                )
        description += "."
    layout = _h_layout(
        width=width,
        labels=groups,
        extents=present,
        end_labels=[(value, fmt.short(value)) for value in present],
        fmt=fmt,
    )
    body, top = _heading(show_title, title, width)
    legend, legend_height = _legend(
        [_LegendItem(name, palette[i]) for i, name in enumerate(series)],
        x=PADDING,
        y=top + 2,
        width=width - 2 * PADDING,
    )
    body.append(legend)
    top += legend_height + PADDING + 4
    bar_height, bar_gap, group_gap = 16, 2, 14
    group_height = len(series) * bar_height + (len(series) - 1) * bar_gap + group_gap
    bottom = top + len(groups) * group_height
    body += _value_axis(
        layout.scale,
        layout.ticks,
        fmt,
        top=top,
        bottom=bottom,
        title=value_label,
        chart_width=width,
        every=layout.every,
    )
    for g, group in enumerate(groups):
        group_top = top + g * group_height + group_gap / 2
        middle = group_top + (group_height - group_gap) / 2
        body.append(svg.label(layout.label_right, middle, group, layout.label_width, anchor="end"))
        for s, name in enumerate(series):
            value = matrix[g][s]
            where = f"{svg.clean(group)}, {svg.clean(name)}"
            tooltip = f"{where}: {'no data' if value is None else fmt.full(value)}"
            hbar = _HBar(
                top=group_top + s * (bar_height + bar_gap),
                height=bar_height,
                colour=palette[s],
                tooltip=tooltip,
                value=value,
            )
            marks, labels = _draw_hbar(hbar, layout, fmt, "")
            body += marks + labels
    return svg.document(
        chart_id=cid,
        title=title,
        description=description,
        width=width,
        height=bottom + AXIS_HEIGHT + PADDING,
        body=body,
        font_family=font_family,
    )


def stacked_bar_chart(
    bars: Sequence[str],
    categories: Sequence[str],
    values: Sequence[Sequence[float]],
    *,
    title: str,
    value_format: ValueFormat = ValueFormat.COUNT,
    decimals: int | None = None,
    value_label: str = "Share of the total",
    description: str | None = None,
    colours: Sequence[str] = SEGMENT_COLOURS,
    width: int = DEFAULT_WIDTH,
    show_title: bool = False,
    chart_id: str | None = None,
    font_family: str = FONT_FAMILY,
) -> Markup:
    """100% stacked horizontal bars: each bar split into its categories' shares.

    ``values[b][c]`` is category ``c`` in bar ``b`` (counts, or anything that adds up; they
    must not be negative), shown in tooltips in ``value_format`` with the share. Segments
    run left to right in the legend's order and show their percentage when there is room.
    A bar whose values are all zero says "no data". The page gives the figures as a table.
    The default colours cover 8 categories; pass ``colours`` for more.
    """
    fmt = _Format(ValueFormat(value_format), decimals)
    bars, categories = tuple(bars), tuple(categories)
    matrix = _matrix(bars, categories, values)
    for name, row in zip(bars, matrix, strict=True):
        if any(value is None or value < 0 for value in row):
            raise ValueError(f"{name!r}: stacked values must be numbers of at least 0")
    palette = _check_colours(colours, len(categories))
    cid = svg.chart_id(
        "stacked",
        chart_id,
        bars,
        categories,
        matrix,
        title,
        fmt,
        value_label,
        description,
        palette,
        width,
        show_title,
    )
    if not bars or not categories:
        return _empty_chart(
            chart_id=cid,
            title=title,
            description=description,
            width=width,
            font_family=font_family,
            show_title=show_title,
        )
    totals = [sum(value or 0.0 for value in row) for row in matrix]
    if description is None:
        description = (
            f"100% stacked bar chart of {len(bars)} {'bar' if len(bars) == 1 else 'bars'},"
            f" each split into the shares of {len(categories)} categories:"
            f" {_plain_list(categories)}."
        )
    share = _Format(ValueFormat.SHARE)
    layout = _h_layout(
        width=width, labels=bars, extents=[1.0], end_labels=[], fmt=_Format(ValueFormat.SHARE, 0)
    )
    # Quarters read better than nice_ticks' fifths for parts of a whole.
    ticks = (0.0, 0.25, 0.5, 0.75, 1.0)
    scale = layout.scale
    body, top = _heading(show_title, title, width)
    legend, legend_height = _legend(
        [_LegendItem(name, palette[i]) for i, name in enumerate(categories)],
        x=PADDING,
        y=top + 2,
        width=width - 2 * PADDING,
    )
    body.append(legend)
    top += legend_height + PADDING + 4
    row_height, bar_height = 32, 22
    bottom = top + len(bars) * row_height
    body += _value_axis(
        scale,
        ticks,
        _Format(ValueFormat.SHARE),
        top=top,
        bottom=bottom,
        title=value_label,
        chart_width=width,
    )
    x0, x1 = scale.pixels
    for b, name in enumerate(bars):
        row_top = top + b * row_height
        middle = row_top + row_height / 2
        body.append(svg.label(layout.label_right, middle, name, layout.label_width, anchor="end"))
        if totals[b] <= 0:
            note = svg.text(x0 + 6, middle, "no data", size=SMALL_FONT_SIZE, fill=NHS_DARK_GREY)
            body.append(
                f'<g data-mark="missing">{svg.title(f"{svg.clean(name)}: no data")}{note}</g>'
            )
            continue
        # Edges from the running total, rounded once each: the segments then add up to the
        # full width exactly, whatever the rounding of each one.
        running = 0.0
        left = round(x0, 2)
        for c, category in enumerate(categories):
            value = matrix[b][c] or 0.0
            running += value
            right = (
                round(x1, 2) if c == len(categories) - 1 else round(scale(running / totals[b]), 2)
            )
            if value <= 0:
                continue
            fraction = value / totals[b]
            tooltip = f"{svg.clean(name)}, {svg.clean(category)}: {fmt.full(value)} ({share.full(fraction)})"
            body.append(
                svg.el(
                    "rect",
                    {
                        "x": left,
                        "y": row_top + (row_height - bar_height) / 2,
                        "width": right - left,
                        "height": bar_height,
                        "fill": palette[c],
                        "stroke": NHS_WHITE,
                        "stroke-width": 1,
                        "data-mark": "segment",
                    },
                    svg.title(tooltip),
                )
            )
            text = f"{round(fraction * 100)}%"
            if svg.text_width(text, SMALL_FONT_SIZE) + 6 <= right - left:
                body.append(
                    svg.text(
                        (left + right) / 2,
                        middle,
                        text,
                        size=SMALL_FONT_SIZE,
                        anchor="middle",
                        fill=svg.text_colour_on(palette[c]),
                    )
                )
            left = right
    return svg.document(
        chart_id=cid,
        title=title,
        description=description,
        width=width,
        height=bottom + AXIS_HEIGHT + PADDING,
        body=body,
        font_family=font_family,
    )


def population_pyramid(
    bands: Sequence[str],
    male: Sequence[float],
    female: Sequence[float],
    *,
    title: str,
    value_format: ValueFormat = ValueFormat.COUNT,
    decimals: int | None = None,
    value_label: str | None = None,
    outline: PyramidOutline | None = None,
    description: str | None = None,
    male_colour: str = NHS_BLUE,
    female_colour: str = NHS_AQUA_GREEN,
    width: int = DEFAULT_WIDTH,
    show_title: bool = False,
    chart_id: str | None = None,
    font_family: str = FONT_FAMILY,
) -> Markup:
    """A population pyramid: males to the left, females to the right, oldest at the top.

    ``bands`` are age bands youngest first ("0-4" ... "90+"), with ``male`` and ``female``
    values for each (counts, or percentages of the whole population in ``value_format``).
    ``outline`` draws a second population over the bars as a step line. Both halves share
    one scale, so the sexes compare by length.
    """
    fmt = _Format(ValueFormat(value_format), decimals)
    bands, male, female = tuple(bands), tuple(male), tuple(female)
    if not len(male) == len(female) == len(bands):
        raise ValueError("need one male and one female value for each band")
    if outline is not None and not len(outline.male) == len(outline.female) == len(bands):
        raise ValueError(f"{outline.label!r} needs one male and one female value per band")
    for value in (*male, *female):
        _finite(value, "a pyramid value")
        if value < 0:
            raise ValueError("a population pyramid cannot have negative values")
    male_colour, female_colour = _check_colours([male_colour, female_colour], 2)
    cid = svg.chart_id(
        "pyramid",
        chart_id,
        bands,
        male,
        female,
        title,
        fmt,
        value_label,
        outline,
        description,
        male_colour,
        female_colour,
        width,
        show_title,
    )
    if not bands:
        return _empty_chart(
            chart_id=cid,
            title=title,
            description=description,
            width=width,
            font_family=font_family,
            show_title=show_title,
        )
    if value_label is None:
        value_label = (
            "Number of people"
            if fmt.kind is ValueFormat.COUNT
            else "Percentage of the population"
            if fmt.kind in (ValueFormat.PERCENT, ValueFormat.SHARE)
            else ""
        )
    if description is None:
        description = _describe_pyramid(bands, male, female, fmt, outline)
    largest = max(
        (*male, *female, *(outline.male if outline else ()), *(outline.female if outline else ()))
    )
    centre_width = max(svg.text_width(svg.clean(band), SMALL_FONT_SIZE) for band in bands) + 16
    centre_width = min(centre_width, width * 0.25)

    def half_width(ticks: tuple[float, ...]) -> float:
        # Half the outermost tick label overhangs each end of the axis.
        outer = svg.text_width(fmt.tick(ticks[-1], fmt.tick_places(ticks)), SMALL_FONT_SIZE) / 2
        return (width - 2 * PADDING - 2 * (outer + 2) - centre_width) / 2

    ticks, every = _ticks_that_fit(0, largest, fmt, half_width)
    half = half_width(ticks)
    outer = (width - 2 * PADDING - centre_width) / 2 - half
    centre_left = PADDING + outer + half
    centre_right = centre_left + centre_width
    left_scale = svg.Scale((0, ticks[-1]), (centre_left, centre_left - half))
    right_scale = svg.Scale((0, ticks[-1]), (centre_right, centre_right + half))

    body, top = _heading(show_title, title, width)
    if outline is not None:
        legend, legend_height = _legend(
            [_LegendItem(outline.label, NHS_TEXT, kind="line")],
            x=PADDING,
            y=top + 2,
            width=width - 2 * PADDING,
        )
        body.append(legend)
        top += legend_height
    # Which side is which is said in words, not only by colour.
    header = top + PADDING + 9
    body.append(
        svg.text(
            (centre_left + PADDING + outer) / 2, header, "Male", weight="bold", anchor="middle"
        )
    )
    body.append(
        svg.text(
            (centre_right + width - PADDING - outer) / 2,
            header,
            "Female",
            weight="bold",
            anchor="middle",
        )
    )
    top = header + 16
    row_height = 20 if len(bands) <= 24 else 14
    bar_height = row_height - 4
    bottom = top + len(bands) * row_height
    body += _value_axis(
        right_scale,
        ticks,
        fmt,
        top=top,
        bottom=bottom,
        title=value_label,
        chart_width=width,
        every=every,
        mirror=left_scale,
    )
    rows = list(range(len(bands)))[::-1]  # youngest at the bottom
    for position, index in enumerate(rows):
        row_top = top + position * row_height
        middle = row_top + row_height / 2
        body.append(
            svg.label(
                (centre_left + centre_right) / 2,
                middle,
                bands[index],
                centre_width - 4,
                anchor="middle",
                size=SMALL_FONT_SIZE,
            )
        )
        for sex, values, scale, colour in (
            ("Male", male, left_scale, male_colour),
            ("Female", female, right_scale, female_colour),
        ):
            value = values[index]
            tooltip = f"{sex}, {svg.clean(bands[index])}: {fmt.full(value)}"
            if outline is not None:
                other = (outline.male if sex == "Male" else outline.female)[index]
                tooltip += f"; {svg.clean(outline.label)}: {fmt.full(other)}"
            edge_a, edge_b = round(scale(0), 2), round(scale(value), 2)
            body.append(
                svg.el(
                    "rect",
                    {
                        "x": min(edge_a, edge_b),
                        "y": row_top + 2,
                        "width": abs(edge_b - edge_a),
                        "height": bar_height,
                        "fill": colour,
                        "data-mark": "bar",
                        "data-side": "male" if sex == "Male" else "female",
                    },
                    svg.title(tooltip),
                )
            )
    if outline is not None:
        for sex, step_values, scale in (
            ("male", outline.male, left_scale),
            ("female", outline.female, right_scale),
        ):
            # Down the rows, top to bottom: across to each band's value, then down its row.
            d = f"M{svg.num(scale(step_values[rows[0]]))} {svg.num(top)}"
            for position, index in enumerate(rows):
                d += f"H{svg.num(scale(step_values[index]))}V{svg.num(top + (position + 1) * row_height)}"
            summary = ", ".join(
                f"{svg.clean(bands[i])} {fmt.full(step_values[i])}" for i in range(len(bands))
            )
            body.append(
                svg.el("path", {"d": d, "fill": "none", "stroke": NHS_WHITE, "stroke-width": 4.5})
            )
            body.append(
                svg.el(
                    "path",
                    {
                        "d": d,
                        "fill": "none",
                        "stroke": NHS_TEXT,
                        "stroke-width": 2,
                        "data-mark": "outline",
                        "data-side": sex,
                    },
                    svg.title(f"{svg.clean(outline.label)}, {sex}: {summary}"),
                )
            )
    return svg.document(
        chart_id=cid,
        title=title,
        description=description,
        width=width,
        height=bottom + AXIS_HEIGHT + PADDING,
        body=body,
        font_family=font_family,
    )


def _describe_pyramid(
    bands: Sequence[str],
    male: Sequence[float],
    female: Sequence[float],
    fmt: _Format,
    outline: PyramidOutline | None,
) -> str:
    text = (
        f"Population pyramid of {len(bands)} age bands from {svg.clean(bands[0])}"
        f" to {svg.clean(bands[-1])}, males on the left and females on the right"
    )
    if fmt.kind is ValueFormat.COUNT:
        text += f": {fmt.full(sum(male))} males and {fmt.full(sum(female))} females"
    largest = max(range(len(bands)), key=lambda i: male[i] + female[i])
    text += f"; the largest band is {svg.clean(bands[largest])}"
    if outline is not None:
        text += f"; a line shows {svg.clean(outline.label)}"
    return text + "."


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    value_label: str,
    value_format: ValueFormat = ValueFormat.NUMBER,
    decimals: int | None = None,
    description: str | None = None,
    from_zero: bool = True,
    colours: Sequence[str] = SERIES_COLOURS,
    width: int = DEFAULT_WIDTH,
    height: int = 320,
    show_title: bool = False,
    chart_id: str | None = None,
    font_family: str = FONT_FAMILY,
) -> Markup:
    """A few series over evenly spaced x labels (years, months), points marked, with a legend.

    Each series' values line up with ``x_labels``; None leaves a gap in the line. The y axis
    starts at 0 unless ``from_zero`` is False (or values are negative). Series differ in
    marker shape as well as colour. ``value_label`` is written above the y axis.
    """
    fmt = _Format(ValueFormat(value_format), decimals)
    x_labels, series = tuple(x_labels), tuple(series)
    for each in series:
        if len(each.values) != len(x_labels):
            raise ValueError(
                f"series {each.name!r} has {len(each.values)} values for {len(x_labels)} x labels"
            )
    palette = _check_colours(colours, len(series))
    cid = svg.chart_id(
        "line",
        chart_id,
        x_labels,
        series,
        title,
        value_label,
        fmt,
        description,
        from_zero,
        palette,
        width,
        height,
        show_title,
    )
    present = [value for each in series for value in each.values if value is not None]
    if not x_labels or not present:
        return _empty_chart(
            chart_id=cid,
            title=title,
            description=description,
            width=width,
            font_family=font_family,
            show_title=show_title,
        )
    if description is None:
        description = _describe_lines(x_labels, series, value_label, fmt)
    low, high = _values_range(present) if from_zero else (min(present), max(present))
    if low == high:  # one flat series not from zero: give it some room either side
        low, high = low - abs(low) * 0.1 - 1, high + abs(high) * 0.1 + 1

    body, top = _heading(show_title, title, width)
    legend, legend_height = _legend(
        [
            _LegendItem(
                each.name, palette[i], kind="line", marker=_MARKER_SHAPES[i % len(_MARKER_SHAPES)]
            )
            for i, each in enumerate(series)
        ],
        x=PADDING,
        y=top + 2,
        width=width - 2 * PADDING,
    )
    body.append(legend)
    top += legend_height + 4
    body.append(svg.label(PADDING, top + 10, value_label, width - 2 * PADDING, size=13))
    plot_top = top + 30
    plot_bottom: float = height - PADDING - 26
    if plot_bottom - plot_top < 80:
        plot_bottom = plot_top + 80
        height = math.ceil(plot_bottom + PADDING + 26)
    # A tick every 40 pixels or so keeps the gridlines readable whatever the height.
    target = max(2, min(6, round((plot_bottom - plot_top) / 40)))
    ticks = nice_ticks(low, high, target=target, integer=fmt.kind is ValueFormat.COUNT)
    places = fmt.tick_places(ticks)
    y_scale = svg.Scale((ticks[0], ticks[-1]), (plot_bottom, plot_top))
    tick_width = max(svg.text_width(fmt.tick(tick, places), SMALL_FONT_SIZE) for tick in ticks)
    x0 = PADDING + tick_width + 8
    x1 = width - PADDING - max(svg.text_width(svg.clean(x_labels[-1]), SMALL_FONT_SIZE) / 2 - 12, 4)
    inset = 12  # so the first and last markers are not cut by the axis
    if len(x_labels) == 1:
        xs = [(x0 + x1) / 2]
    else:
        step = (x1 - x0 - 2 * inset) / (len(x_labels) - 1)
        xs = [x0 + inset + i * step for i in range(len(x_labels))]
    for tick in ticks:
        y = y_scale(tick)
        colour = NHS_DARK_GREY if tick == 0 or tick == ticks[0] else NHS_GREY_4
        body.append(svg.gridline(tick, x0, y, x1, y, colour))
        body.append(
            svg.text(
                x0 - 6,
                y,
                fmt.tick(tick, places),
                size=SMALL_FONT_SIZE,
                anchor="end",
                fill=NHS_DARK_GREY,
            )
        )
    # Label every k-th x so the labels never overlap.
    spacing = xs[1] - xs[0] if len(xs) > 1 else x1 - x0
    widest = max(svg.text_width(svg.clean(label), SMALL_FONT_SIZE) for label in x_labels)
    every = max(1, math.ceil((widest + 8) / spacing))
    for i, label in enumerate(x_labels):
        if i % every == 0:
            body.append(
                svg.el(
                    "line",
                    {
                        "x1": xs[i],
                        "x2": xs[i],
                        "y1": plot_bottom,
                        "y2": plot_bottom + 4,
                        "stroke": NHS_DARK_GREY,
                    },
                )
            )
            body.append(
                svg.label(
                    xs[i],
                    plot_bottom + 14,
                    label,
                    max(spacing * every - 4, 20),
                    anchor="middle",
                    size=SMALL_FONT_SIZE,
                    fill=NHS_DARK_GREY,
                )
            )
    for s, each in enumerate(series):
        colour = palette[s]
        shape = _MARKER_SHAPES[s % len(_MARKER_SHAPES)]
        d, pen_down = [], False
        for i, value in enumerate(each.values):
            if value is None:
                pen_down = False
                continue
            d.append(f"{'L' if pen_down else 'M'}{svg.num(xs[i])} {svg.num(y_scale(value))}")
            pen_down = True
        summary = ", ".join(
            f"{svg.clean(x_labels[i])} {fmt.full(v)}"
            for i, v in enumerate(each.values)
            if v is not None
        )
        body.append(
            svg.el(
                "path",
                {
                    "d": "".join(d),
                    "fill": "none",
                    "stroke": colour,
                    "stroke-width": 2.5,
                    "stroke-linejoin": "round",
                    "data-mark": "line",
                },
                svg.title(f"{svg.clean(each.name)}: {summary}"),
            )
        )
        for i, value in enumerate(each.values):
            if value is not None:
                tooltip = f"{svg.clean(each.name)}, {svg.clean(x_labels[i])}: {fmt.full(value)}"
                body.append(_marker(shape, xs[i], y_scale(value), colour, tooltip))
    return svg.document(
        chart_id=cid,
        title=title,
        description=description,
        width=width,
        height=height,
        body=body,
        font_family=font_family,
    )


def _describe_lines(
    x_labels: Sequence[str], series: Sequence[Series], value_label: str, fmt: _Format
) -> str:
    text = f"Line chart of {svg.clean(value_label)}"
    if len(x_labels) > 1:
        text += f" from {svg.clean(x_labels[0])} to {svg.clean(x_labels[-1])}"
    parts = []
    for each in series:
        points = [(x, v) for x, v in zip(x_labels, each.values, strict=True) if v is not None]
        if not points:
            parts.append(f"{svg.clean(each.name)} no data")
        elif len(points) == 1:
            parts.append(
                f"{svg.clean(each.name)} {fmt.full(points[0][1])} in {svg.clean(points[0][0])}"
            )
        else:
            parts.append(
                f"{svg.clean(each.name)} from {fmt.full(points[0][1])} to {fmt.full(points[-1][1])}"
            )
    return f"{text}: {'; '.join(parts)}."
