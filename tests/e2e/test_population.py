"""Population health in Debian Chromium: the dashboard, a cohort's breakdown chosen from the
keyboard, the needs assessment, and a GP's worklist leading to the record."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import Browser, Page, expect

from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.population.lake import refresh_lake
from joinedup.population.measures import duckdb_lake
from joinedup.population.run import run_population
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.e2e.conftest import serve
from tests.support.records import load_hypertensive, load_people

pytestmark = pytest.mark.e2e

AS_OF = date(2026, 11, 30)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Ann (L99021) and Bob's records, a hypertensive at each practice, the lake and a
    population run, served with the development identity provider."""
    settings = Settings(var_dir=tmp_path_factory.mktemp("population-var"), dev_idp=True)
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    load_people(sessions, practice="L99021", other_practice="L99001")
    for nhs, local, practice in (("9434766001", "CORA", "L99021"), ("9434766028", "DAI", "L99001")):
        load_hypertensive(
            sessions,
            nhs=nhs,
            local=local,
            family=local.capitalize(),
            practice=practice,
            systolic=165,
        )
    with sessions() as session:
        refresh_lake(session, settings.lake_dir, reference_dir=None, as_of=AS_OF)
    engine.dispose()
    run_population(duckdb_lake(settings.lake_dir), AS_OF, out_dir=settings.population_dir)
    yield from serve(settings)


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    context = browser.new_context(base_url=site, viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, name: str) -> None:
    page.goto("/login")
    page.get_by_label(name, exact=False).check()
    page.get_by_role("button", name="Sign in").click()


def test_the_dashboard_and_a_cohort_breakdown_from_the_keyboard(page: Page) -> None:
    sign_in(page, "Elowen Tonkin")  # the analyst
    page.goto("/population")
    expect(page.get_by_role("heading", level=1)).to_have_text("The population's needs")
    for heading in (
        "Who needs what: Bridges to Health segments",
        "Indicators",
        "Cohorts for proactive care",
    ):
        expect(page.get_by_role("heading", name=heading, level=2)).to_be_visible()
    # Each chart is an image with an accessible name.
    charts = page.locator("figure.app-chart svg[role=img]")
    assert charts.count() >= 2
    for i in range(charts.count()):
        assert charts.nth(i).get_attribute("aria-labelledby")
    page.get_by_role(
        "link", name="Hypertension under 80 with the last systolic 140 mmHg or more"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hypertension under 80")
    expect(page.locator("#attrition tbody tr")).to_have_count(4)
    # Choose the breakdown with the keyboard only.
    page.get_by_label("Break down by").focus()
    page.get_by_label("Break down by").select_option("sex")
    page.get_by_role("button", name="Show").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"by=sex"))
    expect(page.locator("table.app-rates").first).to_contain_text("Sex")
    # The analyst has no worklist.
    expect(page.get_by_role("link", name="Open the worklist for your patients")).to_have_count(0)


def test_the_needs_assessment_and_its_pdf(page: Page) -> None:
    sign_in(page, "Elowen Tonkin")
    page.goto("/population/report")
    for heading in (
        "Recorded prevalence against expected",
        "Demand projected from population ageing",
    ):
        expect(page.get_by_role("heading", name=heading, level=2)).to_be_visible()
    response = page.request.get("/population/report.pdf")
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")


def test_a_gp_opens_the_worklist_and_then_the_record(page: Page) -> None:
    sign_in(page, "Dr Morwenna Penrose")
    page.goto("/population/cohorts/hypertension-above-target")
    page.get_by_role("link", name="Open the worklist for your patients").click()
    rows = page.locator("#worklist tbody tr")
    expect(rows).to_have_count(2)  # Ann and Cora at L99021; not Dai at L99001
    expect(page.locator("#worklist")).not_to_contain_text("DAI")
    rows.filter(has_text="Ann SMITH").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ann SMITH")
