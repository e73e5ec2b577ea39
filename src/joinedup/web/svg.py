"""SVG primitives the server-side charts share: escaped elements, text, lines, ids, fitting, contrast.

:mod:`joinedup.web.charts` and :mod:`joinedup.web.spc_chart` build their markup from these, so
both keep to the same rules, which let one ``<svg>`` serve in browsers and in WeasyPrint's PDF:

- every attribute value and every piece of text is escaped, and characters XML 1.0 cannot
  hold even escaped are dropped (a label with one would make the SVG unreadable);
- presentation attributes only (``fill="..."``), never CSS classes or ``<style>``;
- text is centred on a height by a computed baseline, not ``dominant-baseline`` (which
  WeasyPrint only partly supports), and a tooltip goes on a ``<g>`` around a text, never
  inside it (WeasyPrint would draw the title's text);
- output is deterministic: coordinates are written to two decimals and attributes in the
  order given, and ids are derived from the input.

There are no font metrics on the server, so text widths are estimated from Arial's advance
widths (on the wide side, so that labels never collide) and long labels cut to fit.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from markupsafe import Markup, escape

# --- the NHS.UK palette --------------------------------------------------------------------

NHS_BLUE = "#005eb8"
NHS_DARK_BLUE = "#003087"
NHS_TEXT = "#212b32"
NHS_DARK_GREY = "#425563"
NHS_MID_GREY = "#768692"
NHS_GREY_4 = "#d8dde0"
NHS_WHITE = "#ffffff"
NHS_WARM_YELLOW = "#ffb81c"
NHS_GREEN = "#007f3b"
NHS_LIGHT_GREEN = "#78be20"
NHS_RED = "#d5281b"
NHS_AQUA_GREEN = "#00a499"
NHS_PURPLE = "#330072"
NHS_PINK = "#ae2573"

#: The page's font (NHS.UK frontend), with the fallbacks it uses.
FONT_FAMILY = '"Frutiger W01", Arial, sans-serif'
FONT_SIZE = 14
SMALL_FONT_SIZE = 12
ELLIPSIS = "\u2026"

#: An element's attributes: None leaves one out, numbers are written as coordinates.
Attrs = Mapping[str, str | float | int | None]

# XML 1.0 cannot hold these even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CHART_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


# --- elements ------------------------------------------------------------------------------


def clean(text: str) -> str:
    """Text fit for XML: no characters XML forbids, whitespace runs as one space."""
    return " ".join(_NOT_XML.sub("", text).split())


def num(value: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros, never ``-0``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def attributes(attrs: Attrs) -> str:
    """Attributes in the order given (so output is stable), escaped; None left out."""
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        written = num(value) if isinstance(value, int | float) else str(escape(value))
        parts.append(f' {name}="{written}"')
    return "".join(parts)


def el(tag: str, attrs: Attrs, content: str = "") -> str:
    """One element; ``content`` is markup already (escape text before passing it)."""
    opening = tag + attributes(attrs)
    return f"<{opening}>{content}</{tag}>" if content else f"<{opening}/>"


def title(text: str) -> str:
    """A ``<title>``: the tooltip of the element it is put in."""
    return f"<title>{escape(clean(text))}</title>"


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    stroke: str,
    width: float | None = None,
    *,
    content: str = "",
    **extra: str | float | None,
) -> str:
    """A ``<line>``; ``extra`` attributes are named in Python (``stroke_dasharray``)."""
    attrs: dict[str, str | float | None] = {
        "x1": x1,
        "x2": x2,
        "y1": y1,
        "y2": y2,
        "stroke": stroke,
        "stroke-width": width,
    }
    attrs.update({key.replace("_", "-"): value for key, value in extra.items()})
    return el("line", attrs, content)


def chart_id(kind: str, given: str | None, *parts: object) -> str:
    """The id prefix for a chart's title, desc and pattern ids.

    Derived from the input when not given, so output is deterministic and two different
    charts on one page do not share ids.
    """
    if given is not None:
        if not _CHART_ID.fullmatch(given):
            raise ValueError(f"chart_id {given!r} is not a usable XML id")
        return given
    digest = hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}-{digest[:10]}"


def document(
    *,
    chart_id: str,
    title: str,
    description: str,
    width: float,
    height: float,
    body: Iterable[str],
    font_family: str = FONT_FAMILY,
    defs: str = "",
) -> Markup:
    """The chart's ``<svg>``: sized, named by its ``<title>`` and ``<desc>``, on white."""
    width, height = math.ceil(width), math.ceil(height)
    parts = [
        f'<title id="{chart_id}-title">{escape(clean(title))}</title>',
        f'<desc id="{chart_id}-desc">{escape(clean(description))}</desc>',
    ]
    if defs:
        parts.append(f"<defs>{defs}</defs>")
    # A white ground: the page behind may be NHS grey, and colours were chosen against white.
    parts.append(el("rect", {"width": width, "height": height, "fill": NHS_WHITE}))
    parts.extend(body)
    return Markup(
        el(
            "svg",
            {
                "xmlns": "http://www.w3.org/2000/svg",
                "width": width,
                "height": height,
                "viewBox": f"0 0 {width} {height}",
                "role": "img",
                "aria-labelledby": f"{chart_id}-title {chart_id}-desc",
                "font-family": font_family,
            },
            "".join(parts),
        )
    )


# --- text ----------------------------------------------------------------------------------

# Advance widths (in ems) of Arial's ASCII glyphs, grouped; a close estimate is enough to
# lay out labels and to truncate long ones.
_GLYPH_WIDTHS: dict[str, float] = {
    character: width
    for characters, width in (
        ("'|", 0.2),
        ("ijl", 0.222),
        (" !,./:;I[\\]ft", 0.278),
        ("()-`r{}", 0.333),
        ('*"', 0.38),
        ("^", 0.47),
        ("Jckvxyzs", 0.5),
        ("0123456789abdeghnopqu#$?_L", 0.556),
        ("+<=>~", 0.584),
        ("FTZ", 0.611),
        ("ABEKPSVXY&", 0.667),
        ("CDHNRUw", 0.722),
        ("GOQ", 0.778),
        ("Mm", 0.833),
        ("%", 0.889),
        ("W", 0.944),
        ("@", 1.015),
    )
    for character in characters
}
# The server's fallback font (DejaVu Sans) is about a tenth wider than Arial; Frutiger is
# close to Arial. Estimating on the wide side means a label never runs into the marks.
_FONT_WIDENING = 1.12
_BOLD_WIDENING = 1.1


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """The estimated width of ``text`` in pixels at font size ``size``."""
    ems = sum(_GLYPH_WIDTHS.get(character, 0.6) for character in text)
    return ems * size * _FONT_WIDENING * (_BOLD_WIDENING if bold else 1)


def fit(text: str, width: float, size: float, *, bold: bool = False) -> str:
    """``text`` cleaned, and cut short with an ellipsis if it would be wider than ``width``."""
    text = clean(text)
    if text_width(text, size, bold=bold) <= width:
        return text
    for end in range(len(text) - 1, 0, -1):
        candidate = text[:end].rstrip() + ELLIPSIS
        if text_width(candidate, size, bold=bold) <= width:
            return candidate
    return ELLIPSIS


def text(
    x: float,
    y: float,
    content: str,
    *,
    size: float = FONT_SIZE,
    anchor: str = "start",
    fill: str = NHS_TEXT,
    weight: str | None = None,
) -> str:
    """A text element whose vertical middle is at ``y`` (the baseline is put below it)."""
    attrs: dict[str, str | float | None] = {
        "x": x,
        "y": y + size * 0.35,
        "font-size": size,
        "fill": fill,
        "text-anchor": None if anchor == "start" else anchor,
        "font-weight": weight,
    }
    return el("text", attrs, str(escape(clean(content))))


def label(
    x: float,
    y: float,
    content: str,
    width: float,
    *,
    size: float = FONT_SIZE,
    anchor: str = "start",
    fill: str = NHS_TEXT,
    weight: str | None = None,
) -> str:
    """A :func:`text` cut to ``width``; when cut, a tooltip keeps the full text."""
    content = clean(content)
    fitted = fit(content, width, size, bold=weight == "bold")
    element = text(x, y, fitted, size=size, anchor=anchor, fill=fill, weight=weight)
    return element if fitted == content else f"<g>{title(content)}{element}</g>"


# --- scales and axes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Maps values in ``domain`` linearly onto pixels in ``pixels``."""

    domain: tuple[float, float]
    pixels: tuple[float, float]

    def __call__(self, value: float) -> float:
        (d0, d1), (p0, p1) = self.domain, self.pixels
        return p0 + (value - d0) / (d1 - d0) * (p1 - p0)


def gridline(tick: float, x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    """A gridline whose ``data-tick`` holds the exact value, so the scale can be read back."""
    return line(x1, y1, x2, y2, colour, data_tick=f"{tick:.12g}")


# --- contrast ------------------------------------------------------------------------------


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours."""
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_colour_on(fill: str) -> str:
    """White or NHS text colour, whichever reads better on ``fill``."""
    return NHS_WHITE if contrast(fill, NHS_WHITE) >= contrast(fill, NHS_TEXT) else NHS_TEXT


def outline_for(fill: str) -> str | None:
    """An outline for a colour too light to stand out from white on its own (WCAG 1.4.11)."""
    return NHS_DARK_GREY if contrast(fill, NHS_WHITE) < 3 else None
