"""Making Data Count SPC charts and icons as server-side SVG.

:func:`spc_chart` draws an :class:`~joinedup.oversight.spc.SpcResult` the way NHS boards
see an XmR chart in Making Data Count (MDC) papers and in NHSRplotthedots: the values as a
grey line with a dot per point, each dot coloured by its variation (grey common cause, blue
improvement, orange concern, purple neither), the mean as a solid line, the process limits
dashed, the target as a red dashed line, each rebased segment with its own mean and limits,
and the variation and assurance icons in the top right corner. :func:`variation_icon` and
:func:`assurance_icon` draw the icons on their own, for tables of indicators.

The SVG keeps to the conventions of :mod:`joinedup.web.charts`, so the same markup works in
browsers and in WeasyPrint's PDF: a :class:`markupsafe.Markup` holding one ``<svg>``, explicit
``width``/``height``/``viewBox``, presentation attributes only (no classes, no ``<style>``),
text baselines computed here, ``role="img"`` with a ``<title>`` and a generated ``<desc>``,
a ``<title>`` tooltip on every mark, every piece of text escaped, and output that is the
same bytes for the same input. ``data-mark`` (point, line, mean, limit, target, rebase,
icon), ``data-point-type``, ``data-side``, ``data-value`` and ``data-tick`` attributes name
the parts for tests and readers; renderers ignore them.

Colours: the points use NHSRplotthedots 0.2.2's colours, which it standardised with the
MDC team (issue #196): common cause ``#a6a6a6``, improvement ``#00b0f0``, concern
``#e46c0a``, neutral ``#490092``. The light grey and light blue have under 3:1 contrast
with white, so each dot has a darker outline in its own hue, and special-cause dots are
larger than common-cause ones, so the signal does not rest on colour alone (the tooltip and
the legend name it too). The icons follow the package's icon files (blue ``#0072c6``,
purple ``#8000c0``, grey ``#7f7f7f`` on a ``#bfbfbf`` ring), except that concern is drawn in
``#e46c0a`` rather than the icons' ``#ff6600``, which has under 3:1 contrast for the letter.
Lines and text use the NHS.UK palette.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from joinedup.oversight.spc import (
    AssuranceIcon,
    PointType,
    Rule,
    Segment,
    SpcPoint,
    SpcResult,
    VariationIcon,
)
from joinedup.web import svg
from joinedup.web.charts import ValueFormat, format_value, nice_ticks
from joinedup.web.svg import (
    NHS_DARK_GREY,
    NHS_GREY_4,
    NHS_MID_GREY,
    NHS_RED,
    NHS_TEXT,
    NHS_WHITE,
    SMALL_FONT_SIZE,
)

__all__ = [
    "ASSURANCE_COLOURS",
    "POINT_COLOURS",
    "assurance_icon",
    "point_label",
    "spc_chart",
    "variation_icon",
    "x_labels_for",
]

# --- colours --------------------------------------------------------------------------------

_MDC_GREY = "#a6a6a6"  # common cause and the value line (ptd_spc_colours)
_MDC_BLUE = "#00b0f0"
_MDC_ORANGE = "#e46c0a"
_MDC_PURPLE = "#490092"
_ICON_BLUE = "#0072c6"
_ICON_PURPLE = "#8000c0"
_ICON_GREY = "#7f7f7f"
_ICON_RING_GREY = "#bfbfbf"

#: Fill and outline of a point of each type.
POINT_COLOURS: Mapping[PointType, tuple[str, str]] = {
    PointType.COMMON_CAUSE: (_MDC_GREY, _ICON_GREY),
    PointType.SPECIAL_CAUSE_IMPROVEMENT: (_MDC_BLUE, _ICON_BLUE),
    PointType.SPECIAL_CAUSE_CONCERN: (_MDC_ORANGE, _MDC_ORANGE),
    PointType.SPECIAL_CAUSE_NEUTRAL_HIGH: (_MDC_PURPLE, _MDC_PURPLE),
    PointType.SPECIAL_CAUSE_NEUTRAL_LOW: (_MDC_PURPLE, _MDC_PURPLE),
}

#: Ring and letter colours of each assurance icon.
ASSURANCE_COLOURS: Mapping[AssuranceIcon, tuple[str, str]] = {
    AssuranceIcon.CONSISTENT_PASS: (_ICON_BLUE, _ICON_BLUE),
    AssuranceIcon.CONSISTENT_FAIL: (_MDC_ORANGE, _MDC_ORANGE),
    AssuranceIcon.INCONSISTENT: (_ICON_RING_GREY, _ICON_GREY),
}

_VARIATION_STYLE: Mapping[VariationIcon, tuple[str, str, str]] = {
    # ring colour, colour of the letter and the latest dots, letter ("" for none)
    VariationIcon.COMMON_CAUSE: (_ICON_RING_GREY, _ICON_GREY, ""),
    VariationIcon.IMPROVEMENT_HIGH: (_ICON_BLUE, _ICON_BLUE, "H"),
    VariationIcon.IMPROVEMENT_LOW: (_ICON_BLUE, _ICON_BLUE, "L"),
    VariationIcon.CONCERN_HIGH: (_MDC_ORANGE, _MDC_ORANGE, "H"),
    VariationIcon.CONCERN_LOW: (_MDC_ORANGE, _MDC_ORANGE, "L"),
    VariationIcon.NEITHER_HIGH: (_ICON_PURPLE, _ICON_PURPLE, "H"),
    VariationIcon.NEITHER_LOW: (_ICON_PURPLE, _ICON_PURPLE, "L"),
}

_POINT_WORDS = {
    PointType.COMMON_CAUSE: "common cause variation",
    PointType.SPECIAL_CAUSE_IMPROVEMENT: "special cause improvement",
    PointType.SPECIAL_CAUSE_CONCERN: "special cause concern",
    PointType.SPECIAL_CAUSE_NEUTRAL_HIGH: "special cause, neither improvement nor concern",
    PointType.SPECIAL_CAUSE_NEUTRAL_LOW: "special cause, neither improvement nor concern",
}
_LEGEND_WORDS = {
    PointType.COMMON_CAUSE: "Common cause",
    PointType.SPECIAL_CAUSE_IMPROVEMENT: "Improvement",
    PointType.SPECIAL_CAUSE_CONCERN: "Concern",
    # high and low neutral points look the same (one colour, as the package draws them)
    PointType.SPECIAL_CAUSE_NEUTRAL_HIGH: "Neither improvement nor concern",
    PointType.SPECIAL_CAUSE_NEUTRAL_LOW: "Neither improvement nor concern",
}
_RULE_WORDS = {
    (Rule.OUTSIDE_LIMITS, "high"): "above the upper process limit",
    (Rule.OUTSIDE_LIMITS, "low"): "below the lower process limit",
    (Rule.TREND, "high"): "part of a run of 7 or more rising points",
    (Rule.TREND, "low"): "part of a run of 7 or more falling points",
    (Rule.TWO_IN_THREE, "high"): "2 of 3 points close to the upper process limit",
    (Rule.TWO_IN_THREE, "low"): "2 of 3 points close to the lower process limit",
    (Rule.SHIFT, "high"): "part of a run of 7 or more points above the mean",
    (Rule.SHIFT, "low"): "part of a run of 7 or more points below the mean",
}

# --- layout -----------------------------------------------------------------------------------

DEFAULT_WIDTH = 640
DEFAULT_HEIGHT = 380
PADDING = 8
TITLE_HEIGHT = 26
ICON_SIZE = 48
LEGEND_ROW_HEIGHT = 22
X_LABELS_HEIGHT = 24
COMMON_RADIUS = 3.5
SPECIAL_RADIUS = 5.0

_DASHES = "6 4"

_Formatter = Callable[[float], str]  # a value written in full, with its unit


# --- icons ------------------------------------------------------------------------------------
# Drawn on a 100 by 100 grid: a white disc in a coloured ring, a letter at the top and a
# small picture below it, after the MDC icons NHSRplotthedots ships (inst/icons).

_DOT_XS = (24.0, 37.0, 50.0, 63.0, 76.0)


def _ring(colour: str) -> str:
    return svg.el(
        "circle",
        {"cx": 50, "cy": 50, "r": 44, "fill": NHS_WHITE, "stroke": colour, "stroke-width": 6},
    )


def _letter(letter: str, colour: str, x: float = 50) -> str:
    return svg.el(
        "text",
        {
            "x": x,
            "y": 41,
            "font-size": 30,
            "font-weight": "bold",
            "fill": colour,
            "text-anchor": "middle",
        },
        str(escape(letter)),
    )


def _dots(ys: Sequence[float], colours: Sequence[str]) -> str:
    path = "".join(
        f"{'M' if i == 0 else 'L'}{svg.num(x)} {svg.num(y)}"
        for i, (x, y) in enumerate(zip(_DOT_XS, ys, strict=True))
    )
    parts = [svg.el("path", {"d": path, "fill": "none", "stroke": _ICON_GREY, "stroke-width": 2.5})]
    for x, y, colour in zip(_DOT_XS, ys, colours, strict=True):
        parts.append(svg.el("circle", {"cx": x, "cy": y, "r": 5, "fill": colour}))
    return "".join(parts)


def _arrow(x: float, up: bool, colour: str) -> str:
    """A small arrowhead by the letter: which way the latest points have moved."""
    if up:
        d = f"M{svg.num(x)} 18L{svg.num(x + 7)} 28L{svg.num(x - 7)} 28Z"
    else:
        d = f"M{svg.num(x)} 38L{svg.num(x + 7)} 28L{svg.num(x - 7)} 28Z"
    return svg.el("path", {"d": d, "fill": colour})


def _variation_body(kind: VariationIcon) -> str:
    ring, colour, letter = _VARIATION_STYLE[kind]
    if not letter:  # common cause: a grey zigzag of dots, no letter
        return _ring(ring) + _dots((58, 66, 48, 62, 55), [_ICON_GREY] * 5)
    high = letter == "H"
    ys = (64, 70, 64, 50, 54) if high else (58, 52, 58, 72, 68)
    return (
        _ring(ring)
        + _letter(letter, colour, x=44)
        + _arrow(63, high, colour)
        + _dots(ys, [_ICON_GREY] * 3 + [colour] * 2)
    )


def _wave(y: float) -> str:
    return (
        f"M16 {svg.num(y)}C26 {svg.num(y - 9)} 36 {svg.num(y - 9)} 46 {svg.num(y)}"
        f"S66 {svg.num(y + 9)} 76 {svg.num(y)}S84 {svg.num(y - 6)} 86 {svg.num(y - 4)}"
    )


def _assurance_body(kind: AssuranceIcon) -> str:
    ring, colour = ASSURANCE_COLOURS[kind]
    letter = {
        AssuranceIcon.CONSISTENT_PASS: "P",
        AssuranceIcon.CONSISTENT_FAIL: "F",
        AssuranceIcon.INCONSISTENT: "?",
    }[kind]
    # The target (dashed) and the process (grey wave): clear of each other for a pass or a
    # fail, crossing for hit and miss.
    target_y, wave_y = {
        AssuranceIcon.CONSISTENT_PASS: (74.0, 56.0),
        AssuranceIcon.CONSISTENT_FAIL: (52.0, 68.0),
        AssuranceIcon.INCONSISTENT: (62.0, 62.0),
    }[kind]
    # The dashed line runs across the disc, from the inside of the ring to the inside.
    half = math.sqrt(40**2 - (target_y - 50) ** 2)
    target = svg.line(50 - half, target_y, 50 + half, target_y, colour, 3.5, stroke_dasharray="8 4")
    wave = svg.el(
        "path", {"d": _wave(wave_y), "fill": "none", "stroke": _ICON_GREY, "stroke-width": 3.5}
    )
    return _ring(ring) + _letter(letter, colour) + target + wave


def _icon_svg(kind_name: str, title: str, body: str, size: float, icon_id: str | None) -> Markup:
    if not size > 0:
        raise ValueError(f"an icon's size must be positive, not {size!r}")
    cid = svg.chart_id("icon", icon_id, kind_name, size)
    return Markup(
        svg.el(
            "svg",
            {
                "xmlns": "http://www.w3.org/2000/svg",
                "width": size,
                "height": size,
                "viewBox": "0 0 100 100",
                "role": "img",
                "aria-labelledby": f"{cid}-title",
                "font-family": svg.FONT_FAMILY,
                "data-icon": kind_name,
            },
            f'<title id="{cid}-title">{escape(svg.clean(title))}</title>{body}',
        )
    )


def variation_icon(
    kind: VariationIcon | str, *, size: float = ICON_SIZE, icon_id: str | None = None
) -> Markup:
    """The MDC variation icon for ``kind`` as a small ``<svg>``, titled in words.

    Grey for common cause; blue for improvement, orange for concern, purple for neither,
    each with H (higher) or L (lower) and the latest dots raised or lowered.
    """
    kind = VariationIcon(kind)
    return _icon_svg(kind.value, kind.label, _variation_body(kind), size, icon_id)


def assurance_icon(
    kind: AssuranceIcon | str, *, size: float = ICON_SIZE, icon_id: str | None = None
) -> Markup:
    """The MDC assurance icon for ``kind`` as a small ``<svg>``, titled in words.

    P in blue (consistently passes), F in orange (consistently fails), ? in grey (hit and
    miss), each over a dashed target line and the process as a grey wave.
    """
    kind = AssuranceIcon(kind)
    return _icon_svg(kind.value, kind.label, _assurance_body(kind), size, icon_id)


def _placed_icon(kind: str, title: str, body: str, x: float, y: float, size: float) -> str:
    """An icon drawn inside the chart: a group scaled from the 100-unit grid."""
    return svg.el(
        "g",
        {
            "transform": f"translate({svg.num(x)} {svg.num(y)}) scale({size / 100:.4g})",
            "data-mark": "icon",
            "data-icon": kind,
        },
        svg.title(title) + body,
    )


# --- labels -----------------------------------------------------------------------------------


def x_labels_for(points: Sequence[SpcPoint]) -> tuple[str, ...]:
    """Labels for the x axis: "Apr 2023" when every date is a month's first day,
    "2 Apr 2023" for other dates, the point's number when there are no dates."""
    days = [point.date for point in points]
    if any(day is None for day in days):
        return tuple(str(point.index + 1) for point in points)
    known = [day for day in days if day is not None]
    if all(day.day == 1 for day in known):
        return tuple(day.strftime("%b %Y") for day in known)
    return tuple(f"{day.day} {day.strftime('%b %Y')}" for day in known)


def point_label(point: SpcPoint) -> str:
    """What a point's variation is, in words: "special cause concern: below the lower ..."."""
    words = _POINT_WORDS[point.point_type]
    if point.rule is None or point.side is None:
        return words
    return f"{words}: {_RULE_WORDS[point.rule, point.side]}"


def _monthly(points: Sequence[SpcPoint]) -> bool:
    days = [point.date for point in points]
    return all(day is not None and day.day == 1 for day in days)


# --- the chart --------------------------------------------------------------------------------


def _tick_format(value_format: ValueFormat) -> ValueFormat:
    # Ticks leave the unit to the axis title ("per 1,000" would crowd them); percentages
    # keep their sign, as the other charts' axes do.
    if value_format in (ValueFormat.PERCENT, ValueFormat.SHARE):
        return value_format
    return ValueFormat.NUMBER


def _tick_places(ticks: Sequence[float], value_format: ValueFormat) -> int:
    """The fewest decimals that write every tick exactly."""
    scale = 100 if value_format is ValueFormat.SHARE else 1
    for places in range(7):
        if all(abs(t * scale - round(t * scale, places)) < 1e-9 * max(1, abs(t)) for t in ticks):
            return places
    return 6


@dataclass(frozen=True)
class _LegendEntry:
    label: str
    kind: str  # "point", "solid", "dashed"
    colour: str
    outline: str = ""
    radius: float = COMMON_RADIUS


def _legend_entries(result: SpcResult) -> list[_LegendEntry]:
    present = {point.point_type for point in result.points}
    entries: list[_LegendEntry] = []
    for point_type in PointType:
        words = _LEGEND_WORDS[point_type]
        if point_type in present and all(entry.label != words for entry in entries):
            fill, outline = POINT_COLOURS[point_type]
            radius = SPECIAL_RADIUS if point_type.special else COMMON_RADIUS + 0.5
            entries.append(_LegendEntry(words, "point", fill, outline, radius))
    entries.append(_LegendEntry("Mean", "solid", NHS_TEXT))
    entries.append(_LegendEntry("Process limits", "dashed", NHS_MID_GREY))
    if result.target is not None:
        entries.append(_LegendEntry("Target", "dashed", NHS_RED))
    return entries


def _legend(
    entries: Sequence[_LegendEntry], *, x: float, y: float, width: float
) -> tuple[str, int]:
    """Legend entries left to right, wrapping; returns the SVG and the number of rows."""
    parts: list[str] = []
    cursor, row = x, 0
    for entry in entries:
        key = 14 if entry.kind == "point" else 26
        entry_width = key + 6 + svg.text_width(entry.label, SMALL_FONT_SIZE) + 14
        if cursor > x and cursor + entry_width > x + width:
            cursor, row = x, row + 1
        middle = y + row * LEGEND_ROW_HEIGHT + LEGEND_ROW_HEIGHT / 2
        if entry.kind == "point":
            parts.append(
                svg.el(
                    "circle",
                    {
                        "cx": cursor + 7,
                        "cy": middle,
                        "r": entry.radius,
                        "fill": entry.colour,
                        "stroke": entry.outline,
                        "stroke-width": 1,
                    },
                )
            )
        else:
            dashes = _DASHES if entry.kind == "dashed" else None
            parts.append(
                svg.line(
                    cursor, middle, cursor + key, middle, entry.colour, 2, stroke_dasharray=dashes
                )
            )
        parts.append(
            svg.text(cursor + key + 6, middle, entry.label, size=SMALL_FONT_SIZE, fill=NHS_TEXT)
        )
        cursor += entry_width
    return "".join(parts), row + 1


def _spread(wanted: Sequence[float], gap: float, low: float, high: float) -> list[float]:
    """Label positions near ``wanted`` (pixels, any order) at least ``gap`` apart."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    placed = [wanted[i] for i in order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + gap)
    overflow = placed[-1] - high if placed else 0
    if overflow > 0:
        placed = [max(p - overflow, low) for p in placed]
        for k in range(1, len(placed)):
            placed[k] = max(placed[k], placed[k - 1] + gap)
    result = [0.0] * len(wanted)
    for k, i in enumerate(order):
        result[i] = placed[k]
    return result


def spc_chart(
    result: SpcResult,
    *,
    title: str,
    value_label: str = "Value",
    value_format: ValueFormat = ValueFormat.NUMBER,
    decimals: int | None = None,
    x_labels: Sequence[str] | None = None,
    description: str | None = None,
    label_limits: bool = True,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    show_title: bool = False,
    chart_id: str | None = None,
) -> Markup:
    """An MDC XmR chart of ``result`` with its variation and assurance icons.

    ``value_label`` is written above the y axis; ``value_format`` and ``decimals`` say how
    values are written (as :func:`joinedup.web.charts.format_value`). ``x_labels`` (one per
    point) replace the labels made from the dates ("Apr 2023" for monthly data).
    ``label_limits`` writes the latest mean, limits and target at the right-hand end, as
    the package's ``label_limits`` does. ``show_title`` draws ``title`` in the chart as well
    as naming it (pages usually put the title in their own heading).
    """
    value_format = ValueFormat(value_format)
    if decimals is not None and not 0 <= decimals <= 6:
        raise ValueError(f"decimals must be 0 to 6, not {decimals}")
    points = result.points
    labels = tuple(x_labels) if x_labels is not None else x_labels_for(points)
    if len(labels) != len(points):
        raise ValueError(f"{len(labels)} x labels for {len(points)} points")
    if width < 240 or height < 200:
        raise ValueError("an SPC chart needs at least 240 by 200 pixels")
    cid = svg.chart_id(
        "spc",
        chart_id,
        result,
        title,
        value_label,
        value_format,
        decimals,
        labels,
        description,
        label_limits,
        width,
        height,
        show_title,
    )

    def full(value: float) -> str:
        return format_value(value, value_format, decimals)

    if description is None:
        description = _describe(result, labels, value_label, full)
    body: list[str] = []

    # Title, then a band with the axis title on the left and the icons on the right.
    top = float(PADDING)
    if show_title:
        body.append(
            svg.text(
                PADDING,
                top + TITLE_HEIGHT / 2,
                svg.fit(title, width - 2 * PADDING, 16),
                size=16,
                weight="bold",
            )
        )
        top += TITLE_HEIGHT
    icon_x = width - PADDING - ICON_SIZE
    icons = [
        (
            result.variation_icon.value,
            result.variation_icon.label,
            _variation_body(result.variation_icon),
        )
    ]
    if result.assurance_icon is not None:
        icons.append(
            (
                result.assurance_icon.value,
                result.assurance_icon.label,
                _assurance_body(result.assurance_icon),
            )
        )
    # Variation first, then assurance, reading left to right as MDC summary tables do.
    for k, (kind, icon_title, icon_body) in enumerate(icons):
        left = icon_x - (len(icons) - 1 - k) * (ICON_SIZE + 6)
        body.append(_placed_icon(kind, icon_title, icon_body, left, top, ICON_SIZE))
    label_room = icon_x - (len(icons) - 1) * (ICON_SIZE + 6) - 2 * PADDING
    body.append(
        svg.text(
            PADDING,
            top + ICON_SIZE - 8,
            svg.fit(value_label, label_room, 13),
            size=13,
            fill=NHS_DARK_GREY,
        )
    )
    plot_top = top + ICON_SIZE + 10

    # The y scale covers the values, every segment's limits and the target.
    extents = [point.value for point in points]
    for segment in result.segments:
        extents += [segment.lower_process_limit, segment.upper_process_limit]
    if result.target is not None:
        extents.append(result.target)
    low, high = min(extents), max(extents)
    if low == high:  # a flat line: give it room either side
        low, high = low - abs(low) * 0.1 - 1, high + abs(high) * 0.1 + 1

    entries = _legend_entries(result)
    legend_svg_rows = _legend(entries, x=PADDING, y=0, width=width - 2 * PADDING)[1]
    legend_height = legend_svg_rows * LEGEND_ROW_HEIGHT
    trial = any(segment.trial_limits for segment in result.segments)
    caption_height = 18 if trial else 0
    plot_bottom: float = height - PADDING - caption_height - legend_height - X_LABELS_HEIGHT - 4
    if plot_bottom - plot_top < 120:
        plot_bottom = plot_top + 120
        height = math.ceil(
            plot_bottom + X_LABELS_HEIGHT + 4 + legend_height + caption_height + PADDING
        )
    target_ticks = max(2, min(6, round((plot_bottom - plot_top) / 45)))
    ticks = nice_ticks(low, high, target=target_ticks)
    tick_format = _tick_format(value_format)
    places = _tick_places(ticks, value_format)
    tick_texts = [format_value(tick, tick_format, places) for tick in ticks]
    y_scale = svg.Scale((ticks[0], ticks[-1]), (plot_bottom, plot_top))

    latest = result.latest
    right_values: list[tuple[float, str, str]] = []
    if label_limits:
        right_values = [
            (latest.upper_process_limit, NHS_DARK_GREY, "Upper process limit"),
            (latest.mean, NHS_TEXT, "Mean"),
            (latest.lower_process_limit, NHS_DARK_GREY, "Lower process limit"),
        ]
        if result.target is not None:
            right_values.append((result.target, NHS_RED, "Target"))
    right_room = max(
        [svg.text_width(full(value), SMALL_FONT_SIZE) + 10 for value, _, _ in right_values]
        + [svg.text_width(labels[-1], SMALL_FONT_SIZE) / 2 - 6, 4]
    )
    x0 = PADDING + max(svg.text_width(text, SMALL_FONT_SIZE) for text in tick_texts) + 8
    x1 = width - PADDING - right_room
    inset = 10
    step = (x1 - x0 - 2 * inset) / (len(points) - 1)
    xs = [x0 + inset + i * step for i in range(len(points))]

    # Gridlines and tick labels.
    for tick, text in zip(ticks, tick_texts, strict=True):
        y = y_scale(tick)
        colour = NHS_DARK_GREY if tick == ticks[0] else NHS_GREY_4
        body.append(svg.line(x0, y, x1, y, colour, 1, data_tick=f"{tick:.12g}"))
        body.append(
            svg.text(x0 - 6, y, text, size=SMALL_FONT_SIZE, anchor="end", fill=NHS_DARK_GREY)
        )

    # X labels, every k-th so they never overlap (for months, a whole number of quarters
    # or years apart, so the labels fall on the same months).
    widest = max(svg.text_width(label, SMALL_FONT_SIZE) for label in labels)
    needed = math.ceil((widest + 10) / step) if step > 0 else 1
    choices = (1, 2, 3, 4, 6, 12) if _monthly(points) else ()
    every = next((c for c in choices if c >= needed), None)
    if every is None:
        every = 12 * math.ceil(needed / 12) if choices else max(needed, 1)
    for i, label in enumerate(labels):
        if i % every == 0:
            body.append(svg.line(xs[i], plot_bottom, xs[i], plot_bottom + 4, NHS_DARK_GREY))
            body.append(
                svg.text(
                    xs[i],
                    plot_bottom + 14,
                    svg.fit(label, step * every - 4, SMALL_FONT_SIZE),
                    size=SMALL_FONT_SIZE,
                    anchor="middle",
                    fill=NHS_DARK_GREY,
                )
            )

    # Rebase boundaries, then each segment's limits and mean.
    for segment in result.segments[1:]:
        x = (xs[segment.start - 1] + xs[segment.start]) / 2
        body.append(
            svg.el(
                "g",
                {"data-mark": "rebase"},
                svg.title(f"Rebased from {labels[segment.start]}: a new mean and process limits")
                + svg.line(x, plot_top, x, plot_bottom, NHS_MID_GREY, 1, stroke_dasharray="2 3"),
            )
        )
    for number, segment in enumerate(result.segments):
        body.extend(_segment_lines(number, segment, xs, labels, y_scale, full))
    if result.target is not None:
        y = y_scale(result.target)
        body.append(
            svg.el(
                "g",
                {"data-mark": "target", "data-value": f"{result.target:.12g}"},
                svg.title(f"Target: {full(result.target)}")
                + svg.line(x0, y, x1, y, NHS_RED, 2, stroke_dasharray=_DASHES),
            )
        )

    # The values: a grey line per segment (broken at a rebase, as the package draws it),
    # then a dot per point coloured by its variation.
    for number, segment in enumerate(result.segments):
        path = "".join(
            f"{'M' if i == segment.start else 'L'}{svg.num(xs[i])} {svg.num(y_scale(points[i].value))}"
            for i in range(segment.start, segment.stop)
        )
        body.append(
            svg.el(
                "path",
                {
                    "d": path,
                    "fill": "none",
                    "stroke": _MDC_GREY,
                    "stroke-width": 2,
                    "stroke-linejoin": "round",
                    "data-mark": "line",
                    "data-segment": number,
                },
                svg.title(
                    f"{value_label}, {labels[segment.start]} to {labels[segment.stop - 1]}: "
                    f"{segment.points} points"
                ),
            )
        )
    for point, x in zip(points, xs, strict=True):
        fill, outline = POINT_COLOURS[point.point_type]
        body.append(
            svg.el(
                "circle",
                {
                    "cx": x,
                    "cy": y_scale(point.value),
                    "r": SPECIAL_RADIUS if point.point_type.special else COMMON_RADIUS,
                    "fill": fill,
                    "stroke": outline,
                    "stroke-width": 1,
                    "data-mark": "point",
                    "data-point-type": point.point_type.value,
                    "data-value": f"{point.value:.12g}",
                },
                svg.title(f"{labels[point.index]}: {full(point.value)}; {point_label(point)}"),
            )
        )

    # The latest mean, limits and target written at the right-hand end.
    if right_values:
        wanted = [y_scale(value) for value, _, _ in right_values]
        placed = _spread(wanted, SMALL_FONT_SIZE + 1, plot_top, plot_bottom)
        for (value, colour, name), y in zip(right_values, placed, strict=True):
            body.append(
                svg.el(
                    "g",
                    {"data-mark": "limit-label"},
                    svg.title(f"{name}: {full(value)}")
                    + svg.text(x1 + 6, y, full(value), size=SMALL_FONT_SIZE, fill=colour),
                )
            )

    # Legend, and a caption when any limits are trial limits.
    legend_top = plot_bottom + X_LABELS_HEIGHT + 4
    legend_svg, _ = _legend(entries, x=PADDING, y=legend_top, width=width - 2 * PADDING)
    body.append(legend_svg)
    if trial:
        body.append(
            svg.text(
                PADDING,
                legend_top + legend_height + caption_height / 2,
                svg.fit(
                    "Trial limits (fewer than 12 points): they will settle as data is added.",
                    width - 2 * PADDING,
                    SMALL_FONT_SIZE,
                ),
                size=SMALL_FONT_SIZE,
                fill=NHS_DARK_GREY,
            )
        )
    return svg.document(
        chart_id=cid,
        title=title,
        description=description,
        width=width,
        height=height,
        body=body,
    )


def _segment_lines(
    number: int,
    segment: Segment,
    xs: Sequence[float],
    labels: Sequence[str],
    y_scale: svg.Scale,
    full: _Formatter,
) -> list[str]:
    """A segment's mean (solid) and process limits (dashed), from its first to last point."""
    left, right = xs[segment.start], xs[segment.stop - 1]
    span = f"{labels[segment.start]} to {labels[segment.stop - 1]}"
    trial = " (trial limits)" if segment.trial_limits else ""
    parts = []
    for side, value in (
        ("upper", segment.upper_process_limit),
        ("lower", segment.lower_process_limit),
    ):
        y = y_scale(value)
        parts.append(
            svg.el(
                "g",
                {
                    "data-mark": "limit",
                    "data-side": side,
                    "data-segment": number,
                    "data-value": f"{value:.12g}",
                },
                svg.title(f"{side.capitalize()} process limit, {span}: {full(value)}{trial}")
                + svg.line(left, y, right, y, NHS_MID_GREY, 1.5, stroke_dasharray=_DASHES),
            )
        )
    y = y_scale(segment.mean)
    parts.append(
        svg.el(
            "g",
            {"data-mark": "mean", "data-segment": number, "data-value": f"{segment.mean:.12g}"},
            svg.title(f"Mean, {span}: {full(segment.mean)}")
            + svg.line(left, y, right, y, NHS_TEXT, 1.5),
        )
    )
    return parts


def _describe(result: SpcResult, labels: Sequence[str], value_label: str, full: _Formatter) -> str:
    latest = result.latest
    text = (
        f"XmR chart of {svg.clean(value_label)}, {len(result.points)} points from {labels[0]} "
        f"to {labels[-1]}"
    )
    if len(result.segments) > 1:
        rebases = ", ".join(labels[segment.start] for segment in result.segments[1:])
        text += f", rebased from {rebases}; latest"
    text += (
        f": mean {full(latest.mean)}, process limits {full(latest.lower_process_limit)} "
        f"to {full(latest.upper_process_limit)}"
    )
    if result.target is not None:
        text += f", target {full(result.target)}"
    special = result.special_cause_points
    text += f". {special} {'point shows' if special == 1 else 'points show'} special cause "
    text += f"variation. {result.variation_icon.label}."
    if result.assurance_icon is not None:
        text += f" {result.assurance_icon.label}."
    return text
