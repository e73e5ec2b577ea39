"""The single point of access's pages in Debian Chromium: a GP refers a person who has
fallen, the coordination centre accepts the router's proposal, and the urgent community
response team makes first contact and completes the referral."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.feeds.intake import ingest_message
from joinedup.feeds.model import Message, MessageFormat
from joinedup.feeds.pipeline import Outcome
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.e2e.conftest import serve
from tests.support.records import NHS, ODS, load_people

pytestmark = pytest.mark.e2e

#: A made-up person living in Truro (Mid Cornwall), registered at the demo GP's practice.
CAROL_NHS = "9434765935"
CAROL_BORN = "1941-06-12"


def _load_carol(sessions: sessionmaker[Session]) -> None:
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {"system": NHS, "value": CAROL_NHS},
            {"system": "https://fhir.example.org/Id/local", "value": "C1"},
        ],
        "name": [{"family": "Tregear", "given": ["Carol"]}],
        "gender": "female",
        "birthDate": CAROL_BORN,
        "address": [{"line": ["4 Lemon Street"], "postalCode": "TR1 2LS"}],
        "generalPractitioner": [{"identifier": {"system": ODS, "value": "L99021"}}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0000c001-0000-4000-8000-000000000001", "resource": patient}
        ],
    }
    message = Message(
        "L99021",
        "gp-fhir",
        MessageFormat.FHIR_JSON,
        orjson.dumps(bundle),
        datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        name="carol",
    )
    outcomes = ingest_message(sessions, message)
    assert [o.outcome for o in outcomes] == [Outcome.ACCEPTED], outcomes


@pytest.fixture(scope="module")
def referrals_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with the shipped directory, Ann and Bob's records, and Carol's."""
    settings = Settings(var_dir=tmp_path_factory.mktemp("referral-var"), dev_idp=True)
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    load_people(sessions, practice="L99021", other_practice="L99001")
    _load_carol(sessions)
    engine.dispose()
    yield from serve(settings)


@pytest.fixture
def referral_page(browser: Browser, referrals_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=referrals_url, viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, name: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    page.get_by_label(name, exact=False).check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a person's record")


def every_field_labelled(page: Page) -> None:
    for field in page.locator("input:not([type=hidden]), select, textarea").all():
        field_id = field.get_attribute("id")
        assert field_id, "a form field without an id (so without a label)"
        assert page.locator(f"label[for='{field_id}']").count() == 1, field_id


def test_a_fall_is_referred_routed_and_seen_within_two_hours(referral_page: Page) -> None:
    page = referral_page
    # A GP refers Carol, who has fallen at home.
    sign_in(page, "Dr Morwenna Penrose")
    page.goto("/referrals/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Refer a person")
    every_field_labelled(page)
    page.get_by_label("NHS number").fill("943 476 5935")
    page.get_by_label("Date of birth").fill(CAROL_BORN)
    page.get_by_label("What the person needs").select_option("fall")
    page.get_by_label("An urgent community response within 2 hours").check()
    page.get_by_label("Why you are referring the person").fill(
        "Fell at home this morning, no head injury, cannot get up unaided; lives alone."
    )
    page.get_by_role("button", name="Send referral").click()
    expect(page).to_have_url(re.compile(r"/referrals/ref-[0-9a-f]+$"))
    referral_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("a fall"))
    expect(page.get_by_test_id("status")).to_have_text("Received")
    expect(page.get_by_test_id("nhs-number")).to_have_text("943 476 5935")  # her GP
    expect(page.locator("[data-clock]").first).to_have_text("On track")

    # The coordination centre sees it on the worklist (without her name) and accepts.
    sign_in(page, "Loveday Nance")
    page.goto("/referrals")
    expect(page.get_by_role("heading", level=1)).to_have_text("Coordination centre worklist")
    row = page.locator(f"tr[data-referral='{referral_id}']")
    expect(row).to_contain_text("a fall")
    expect(page.locator("#referrals")).not_to_contain_text("Tregear")
    row.get_by_role("link", name=referral_id).click()
    proposal = page.locator("#proposals li[data-service='ucr-central']")
    expect(proposal).to_contain_text("Urgent Community Response, Mid Cornwall")
    expect(proposal.locator(".nhsuk-list--tick")).to_contain_text("handles a fall")
    expect(proposal.locator(".nhsuk-list--tick")).to_contain_text("where the person lives")
    expect(page.locator("#proposals .nhsuk-list--cross li").first).to_be_visible()
    every_field_labelled(page)
    # The team works 8am to 8pm: by night the router proposes it only if it opens in time.
    if proposal.get_by_text("Proposed", exact=True).count():
        page.get_by_role("button", name="Accept proposal").click()
    else:
        page.get_by_label("Service to send the referral to").select_option("ucr-central")
        page.get_by_label("Reason to redirect").fill("The UCR team will see her first thing")
        page.get_by_role("button", name="Redirect").click()
    expect(page.get_by_test_id("status")).to_have_text("Accepted by a team")
    expect(page.get_by_test_id("owner")).to_have_text("Urgent Community Response, Mid Cornwall")
    expect(page.locator("#history")).to_contain_text("Loveday Nance")

    # The team sees it in its queue, makes first contact and completes it.
    sign_in(page, "Tamsin Rowe")
    page.goto("/referrals/team")
    expect(page).to_have_url(re.compile("/referrals/team/district-nursing-central$"))
    page.goto("/referrals/team/ucr-central")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Urgent Community Response, Mid Cornwall"
    )
    page.locator(f"tr[data-referral='{referral_id}']").get_by_role("link").click()
    page.get_by_role("button", name="Record first contact").click()
    expect(page.get_by_test_id("status")).to_have_text("In progress")
    expect(page.locator("[data-clock]").first).to_have_text("Met")
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_test_id("status")).to_have_text("Completed")
    expect(page.locator("#actions")).to_have_count(0)
    page.goto("/referrals/team/ucr-central")
    expect(page.locator(f"tr[data-referral='{referral_id}']")).to_have_count(0)

    # The team reports its capacity.
    page.get_by_label("Amber: under pressure").check()
    page.get_by_label("Note (optional)").fill("Two staff off sick")
    page.get_by_role("button", name="Report capacity").click()
    expect(page.get_by_test_id("capacity")).to_have_text("Amber: under pressure")
    # Another team's queue is not hers.
    response = page.goto("/referrals/team/ucr-east")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You cannot see this")).to_be_visible()


def test_a_referral_without_a_summary_is_sent_back_with_an_error_summary(
    referral_page: Page,
) -> None:
    page = referral_page
    sign_in(page, "Dr Morwenna Penrose")
    page.goto("/referrals/new")
    page.get_by_label("NHS number").fill(CAROL_NHS)
    page.get_by_label("Date of birth").fill(CAROL_BORN)
    page.get_by_label("What the person needs").select_option("fall")
    page.get_by_label("A response the same day").check()
    page.get_by_role("button", name="Send referral").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading")).to_have_text("There is a problem")
    link = summary.get_by_role("link", name="Enter why you are referring the person")
    expect(link).to_have_attribute("href", "#summary")
    expect(page.locator("#summary-error")).to_be_visible()
    # What was entered is kept.
    expect(page.get_by_label("NHS number")).to_have_value(CAROL_NHS)
    expect(page.get_by_label("A response the same day")).to_be_checked()
    # A summary too short for the store's rule comes back from it, linked to the field.
    page.get_by_label("Why you are referring the person").fill("fell")
    page.get_by_role("button", name="Send referral").click()
    expect(
        summary.get_by_role("link", name=re.compile("at least 10 characters"))
    ).to_have_attribute("href", "#summary")


def test_a_person_refers_themselves_without_an_account(referral_page: Page) -> None:
    page = referral_page
    page.context.clear_cookies()
    page.goto("/self-referral")
    expect(page.get_by_role("heading", level=1)).to_have_text("Refer yourself for care and support")
    every_field_labelled(page)
    page.get_by_label("First name").fill("Carol")
    page.get_by_label("Last name").fill("Tregear")
    page.get_by_label("Day").fill("12")
    page.get_by_label("Month").fill("6")
    page.get_by_label("Year").fill("1941")
    page.get_by_label("Postcode").fill("tr1 2ls")
    page.get_by_label("Telephone number").fill("01872 000111")
    page.get_by_label("Loneliness and social isolation").check()
    page.get_by_label("Tell us what is happening").fill(
        "I live alone and have not been out since the winter."
    )
    page.get_by_role("button", name="Send").click()
    # Without the consent box ticked the form says so, and keeps what was typed.
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    expect(page.get_by_label("Postcode")).to_have_value("tr1 2ls")
    page.get_by_label("I agree that the coordination centre").check()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your referral has been sent")
    reference = page.locator("#reference").inner_text()
    assert re.fullmatch(r"self-[0-9a-f]{16}", reference)
    # Carol is known (her GP's record): her referral waits at the coordination centre.
    sign_in(page, "Loveday Nance")
    page.goto("/referrals")
    row = page.locator("#referrals tr", has_text="Loneliness and social isolation")
    expect(row.first).to_be_visible()
