"""Virtual wards in Debian Chromium: the team admits a frail patient, the patient sends
readings from a phone-sized screen through their personal link (no account), the readings
worsen, the escalation reaches the ward board, and the nurse acknowledges and acts on it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.e2e.conftest import serve
from tests.e2e.test_referral_pages import every_field_labelled, sign_in
from tests.support.records import ANN_NHS, load_people

pytestmark = pytest.mark.e2e

WARD = "virtual-ward-frailty-central"


@pytest.fixture(scope="module")
def wards_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(var_dir=tmp_path_factory.mktemp("ward-var"), dev_idp=True)
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    load_people(sessions, practice="L99021", other_practice="L99001")
    engine.dispose()
    yield from serve(settings)


@pytest.fixture
def browser_page(browser: Browser, wards_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=wards_url, viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def send(phone: Page, values: dict[str, str], alert: str, oxygen: str) -> None:
    for label, value in values.items():
        phone.get_by_label(label).fill(value)
    phone.get_by_label(oxygen).check()
    phone.get_by_label(alert).check()
    phone.get_by_role("button", name="Send readings").click()


def test_readings_worsen_and_the_escalation_is_acted_on(
    browser: Browser, browser_page: Page, wards_url: str
) -> None:
    page = browser_page
    sign_in(page, "Tamsin Rowe")
    page.goto(f"/virtual-wards/{WARD}/admit")
    every_field_labelled(page)
    page.get_by_label("NHS number").fill(ANN_NHS)
    page.get_by_label("Date of birth").fill("1948-03-27")
    page.get_by_label("Step-up").check()
    page.get_by_label("Care plan").fill("Chest infection; oral antibiotics; watch for delirium.")
    page.get_by_role("button", name="Admit").click()
    link = page.locator("#personal-link a").inner_text()
    assert re.search(r"/readings/[A-Za-z0-9_-]{20,}$", link)

    # The patient's daughter, on her phone, without an account.
    phone_context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        phone = phone_context.new_page()
        phone.goto(link)
        expect(phone.get_by_role("heading", level=1)).to_have_text("Send your readings")
        every_field_labelled(phone)
        normal = {
            "Breathing rate": "16",
            "Oxygen level (SpO2)": "96",
            "Blood pressure, top number": "128",
            "Pulse": "78",
            "Temperature": "37.1",
        }
        send(phone, normal, "Alert, as usual", "No, breathing air")
        expect(phone.get_by_role("heading", level=1)).to_have_text("Readings sent")
        phone.get_by_role("link", name="Send more readings").click()
        # A typing slip is caught, with what was typed kept.
        send(phone, {**normal, "Temperature": "98.6"}, "Alert, as usual", "No, breathing air")
        expect(phone.locator(".nhsuk-error-summary")).to_be_visible()
        expect(phone.get_by_label("Temperature")).to_have_value("98.6")
        worse = {**normal, "Breathing rate": "24", "Pulse": "121", "Temperature": "38.6"}
        send(phone, worse, "Newly confused", "No, breathing air")
        expect(phone.locator("#advice")).to_contain_text("Your readings need attention now")
    finally:
        phone_context.close()

    page.goto(f"/virtual-wards/{WARD}")
    row = page.locator("#board tbody tr").first
    expect(row).to_contain_text("Ann SMITH")
    expect(row).to_contain_text("Emergency response")
    row.get_by_role("link", name="Ann SMITH").click()
    # Resp 24 (2), SpO2 96 (0), air (0), systolic 128 (0), pulse 121 (2), new confusion (3),
    # 38.6 °C (1): NEWS2 8, high.
    expect(page.locator("#latest-news2")).to_contain_text("8 High")
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_label("What was done").fill(
        "Visited within 15 minutes; 999 called; admitted to RCHT."
    )
    page.get_by_role("button", name="Record and close").click()
    expect(page.get_by_text("Done: Visited within 15 minutes")).to_be_visible()
