"""Reports as PDF: WeasyPrint renders the printable page (``_print_base.html``)."""

from __future__ import annotations

from pathlib import Path


def html_to_pdf(html: str) -> bytes:
    """A report's HTML (its stylesheet inline, its charts inline SVG) as a PDF."""
    from weasyprint import HTML  # imported here: Pango loads only when a PDF is asked for

    pdf: bytes = HTML(string=html, base_url=str(Path(__file__).parent)).write_pdf()
    return pdf
