"""The shared care record running for real: fhirpy against the FHIR API, and the single
patient view in Debian Chromium, signed in through the development identity provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError
from playwright.sync_api import Browser, Page, expect

from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.e2e.conftest import serve
from tests.support.records import ANN_NHS, NHS, People, load_people

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings, People]]:
    """The app serving two people's records from the GP (L99021), another practice and REF."""
    settings = Settings(var_dir=tmp_path_factory.mktemp("record-var"), dev_idp=True)
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    people = load_people(sessions, practice="L99021", other_practice="L99001")
    engine.dispose()
    for url in serve(settings):
        yield url, settings, people


def client(record: tuple[str, Settings, People], user: str = "demo-gp") -> SyncFHIRClient:
    url, settings, _ = record
    token = DevIdentityProvider(settings).issue(user)
    return SyncFHIRClient(f"{url}/fhir", authorization=f"Bearer {token}")


def test_fhirpy_searches_and_reads(record: tuple[str, Settings, People]) -> None:
    fhir = client(record)
    patients = fhir.resources("Patient").search(identifier=f"{NHS}|{ANN_NHS}").fetch()
    assert [p.id for p in patients] == [record[2].ann]
    ann = fhir.reference("Patient", record[2].ann).to_resource()
    assert ann["birthDate"] == "1948-03-27"
    observations = (
        fhir.resources("Observation")
        .search(patient=record[2].ann, code="http://loinc.org|8480-6", date__ge="2026-01-01")
        .fetch_all()
    )
    assert [o["valueQuantity"]["value"] for o in observations] == [148]
    # fetch_all follows the server's next links.
    everything = fhir.resources("Condition").search(patient=record[2].ann).limit(1).fetch_all()
    assert len(everything) == 1
    assert fhir.resources("AllergyIntolerance").search(patient=record[2].ann).count() == 2


def test_fhirpy_gets_the_refusal(record: tuple[str, Settings, People]) -> None:
    with pytest.raises(ForbiddenError, match="no legitimate relationship"):
        client(record).reference("Patient", record[2].bob).to_resource()


def sign_in(page: Page, name: str) -> None:
    page.goto("/login")
    page.get_by_label(name, exact=False).check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a person's record")


@pytest.fixture
def record_page(browser: Browser, record: tuple[str, Settings, People]) -> Iterator[Page]:
    context = browser.new_context(base_url=record[0], viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_gp_finds_a_patient_and_sees_the_joined_up_record(record_page: Page) -> None:
    page = record_page
    sign_in(page, "Dr Morwenna Penrose")
    page.get_by_label("NHS number").fill("943 476 5919")
    page.keyboard.press("Enter")  # the form works from the keyboard
    page.get_by_role("link", name="Ann SMITH").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ann SMITH")
    expect(page.get_by_test_id("nhs-number")).to_have_text("943 476 5919")
    for heading in ("Allergies", "Problems", "Medications", "Timeline of care"):
        expect(page.get_by_role("heading", name=heading, level=2)).to_be_visible()
    # The penicillin allergy from the GP and from the hospital is one row with both sources.
    allergy = page.locator("#allergies tbody tr")
    expect(allergy).to_have_count(1)
    expect(allergy).to_contain_text("L99021")
    expect(allergy).to_contain_text("REF")
    expect(page.locator("#problems")).to_contain_text("Hypertension")
    # Every form field on the page has a label.
    assert page.locator("input:not([type=hidden]):not([id])").count() == 0


def test_no_relationship_means_no_record_until_glass_is_broken(record_page: Page) -> None:
    page = record_page
    sign_in(page, "Piran Jory")  # a paramedic: no relationship with anyone here
    page.get_by_label("NHS number").fill("9434765927")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("you have no relationship with")).to_be_visible()
    page.get_by_role("button", name="Break glass and open the record").click()
    expect(page.get_by_role("heading", name="You cannot see this")).to_be_visible()  # no reason
    page.go_back()
    page.get_by_label("If this is an emergency").fill("Unconscious at scene, no history available")
    page.get_by_role("button", name="Break glass and open the record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bob JONES")
    expect(page.get_by_text("Break-glass access")).to_be_visible()
