"""System oversight in Debian Chromium: the summary matrix's icons are named for screen
readers, drilling down works from the keyboard, and an indicator shows its SPC chart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from joinedup.directory.loader import load_directory
from joinedup.directory.store import read_directory, save_directory
from joinedup.oversight.run import refresh_oversight
from joinedup.population.measures import duckdb_lake
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.e2e.conftest import serve
from tests.support.lake import write_lake

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(var_dir=tmp_path_factory.mktemp("oversight-var"), dev_idp=True)
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    with sessions() as session:
        directory = read_directory(session)
    engine.dispose()
    rows = []
    for month in range(12):
        for i in range(10):
            arrival = datetime(2025, 1 + month, 1 + i, 9, tzinfo=UTC)
            minutes = 100 if i < 7 + month % 3 else 300
            rows.append({"person_id": f"p{i}", "partner": "REF", "department_type": "1",
                         "arrival": arrival, "departure": arrival + timedelta(minutes=minutes),
                         "minutes": minutes, "within_4_hours": minutes <= 240})  # fmt: skip
    people = [{"person_id": f"p{i}", "age": 40, "sex": "female", "area": "west"} for i in range(10)]
    write_lake(settings.lake_dir, people, [], ae_attendance=rows)
    refresh_oversight(
        duckdb_lake(settings.lake_dir),
        directory=directory,
        out_dir=settings.oversight_dir,
        as_of=date(2025, 12, 31),
        months=12,
    )
    yield from serve(settings)


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    context = browser.new_context(base_url=site, viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_matrix_drill_down_and_an_spc_chart(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Elowen Tonkin", exact=False).check()
    page.get_by_role("button", name="Sign in").click()
    page.goto("/oversight")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cornwall and the Isles of Scilly")
    row = page.locator('#summary-matrix tr[data-indicator="ae_4h_all"]')
    expect(row.get_by_role("img")).to_have_count(2)  # variation and assurance, each titled
    expect(row.get_by_role("img").first).to_have_accessible_name("Common cause variation")
    page.get_by_label("Show").select_option("partner|REF")
    page.get_by_role("button", name="Show").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Royal Cornwall Hospitals")
    page.get_by_role("link", name="A&E four-hour performance, all types").click()
    expect(page.get_by_role("heading", name="Statistical process control")).to_be_visible()
    expect(page.locator("figure.app-chart svg[role=img]").first).to_be_visible()
