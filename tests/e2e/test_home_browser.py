"""The home page in a real browser: NHS.UK styles applied, one h1, a working skip link, labelled tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from joinedup.web import NHSUK_DIR

pytestmark = pytest.mark.e2e

NHS_BLUE = "rgb(0, 94, 184)"  # #005eb8


def test_home_page_has_the_nhs_header_styles(page: Page) -> None:
    response = page.goto("/")
    assert response is not None and response.status == 200
    header = page.locator("header.nhsuk-header")
    expect(header).to_be_visible()
    # Only the nhsuk-frontend stylesheet paints the header NHS blue.
    assert header.evaluate("el => getComputedStyle(el).backgroundColor") == NHS_BLUE
    expect(page.locator(".nhsuk-header__service-name")).to_have_text("JoinedUp")
    # The page template marks the body as able to run the frontend's JavaScript module,
    # which is served, along with the icons the stylesheet and page template point at.
    expect(page.locator("body")).to_contain_class("nhsuk-frontend-supported")
    version = page.evaluate("import('/static/nhsuk/nhsuk-frontend.min.js').then(m => m.version)")
    assert version == (NHSUK_DIR / "VERSION").read_text().strip()
    for asset in ("/assets/images/favicon.svg", "/assets/images/nhsuk-icon-arrow-right-circle.svg"):
        assert page.request.get(asset).status == 200, asset


def test_home_page_has_one_h1_naming_the_ics(page: Page) -> None:
    page.goto("/")
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("h1")).to_have_text("Test Integrated Care System")
    expect(page).to_have_title("JoinedUp \N{EN DASH} Test Integrated Care System")


def test_skip_link_moves_focus_to_the_main_content(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    skip_link = page.locator(".nhsuk-skip-link")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_visible()  # hidden until focused
    page.keyboard.press("Enter")
    expect(page.locator("main#maincontent")).to_be_focused()


def test_every_table_has_a_caption_and_column_headers(page: Page) -> None:
    page.goto("/")
    tables = page.locator("main table")
    assert tables.count() >= 5
    for index in range(tables.count()):
        found = tables.nth(index)
        expect(found.locator("caption")).to_have_count(1)
        headers = found.locator("thead th[scope=col]")
        assert headers.count() >= 3, found.locator("caption").inner_text()


def test_age_chart_is_drawn(page: Page) -> None:
    page.goto("/")
    bars = page.locator("svg.app-age-chart rect.app-age-chart__bar")
    expect(bars).to_have_count(4)
    widths = [float(bars.nth(i).get_attribute("width") or 0) for i in range(4)]
    assert max(widths) == 440.0  # the largest band fills the chart


def test_screenshot(page: Page, tmp_path: Path) -> None:
    """A full-page screenshot, to look at when the page changes (kept in pytest's tmp folder)."""
    page.goto("/")
    shot = tmp_path / "home.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
