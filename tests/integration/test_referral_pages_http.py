"""The referral pages over HTTP: who may see what, optimistic concurrency, and the errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from joinedup.access.deps import SESSION_COOKIE
from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.api.app import create_app
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.support.records import ANN_NHS, load_people

REFERRAL = {
    "nhs_number": ANN_NHS,
    "birth_date": "1948-03-27",
    "need": "fall",
    "urgency": "same_day",
    "summary": "Fell yesterday evening, bruised hip, walking with difficulty.",
}


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    settings = Settings(var_dir=tmp_path, dev_idp=True)
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    load_people(sessions, practice="L99021", other_practice="L99001")
    engine.dispose()
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client, settings


def _as(client: TestClient, settings: Settings, subject: str) -> TestClient:
    client.cookies.set(SESSION_COOKIE, DevIdentityProvider(settings).issue(subject))
    return client


def _refer(client: TestClient, settings: Settings) -> str:
    response = _as(client, settings, "demo-gp").post("/referrals/new", data=REFERRAL)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/referrals/ref-[0-9a-f]+", location)
    return location.rsplit("/", 1)[1]


def _version(html: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found is not None
    return found.group(1)


def test_a_stale_form_is_refused_with_a_reload_page(
    app_client: tuple[TestClient, Settings],
) -> None:
    client, settings = app_client
    referral_id = _refer(client, settings)
    coordinator = _as(client, settings, "demo-care-coordinator")
    page = coordinator.get(f"/referrals/{referral_id}")
    assert page.status_code == 200
    version = _version(page.text)
    asked = coordinator.post(
        f"/referrals/{referral_id}/act",
        data={"action": "ask-info", "version": version, "reason": "Is she on anticoagulants?"},
    )
    assert asked.status_code == 303
    stale = coordinator.post(
        f"/referrals/{referral_id}/act", data={"action": "decline", "version": version}
    )
    assert stale.status_code == 412
    assert "This referral was changed by someone else; reload" in stale.text
    assert "nhsuk-error-summary" in stale.text
    # A reason is needed to decline: the error page says so, nothing is written.
    current = _version(coordinator.get(f"/referrals/{referral_id}").text)
    no_reason = coordinator.post(
        f"/referrals/{referral_id}/act", data={"action": "decline", "version": current}
    )
    assert no_reason.status_code == 400 and "needs a reason" in no_reason.text
    assert _version(coordinator.get(f"/referrals/{referral_id}").text) == current


def test_who_sees_which_list(app_client: tuple[TestClient, Settings]) -> None:
    client, settings = app_client
    referral_id = _refer(client, settings)
    mine = client.get("/referrals")
    assert mine.status_code == 200 and "My referrals" in mine.text and referral_id in mine.text
    assert "Ann" not in mine.text and "SMITH" not in mine.text
    # The GP is Ann's: the detail page shows her banner.
    assert "Ann SMITH" in client.get(f"/referrals/{referral_id}").text
    assert client.get("/referrals/team/ucr-central").status_code == 403
    assert client.get("/referrals/team").status_code == 403
    missing = client.get("/referrals/ref-nosuchthing")
    assert missing.status_code == 404 and "nhsuk-error-summary" in missing.text
    worklist = _as(client, settings, "demo-care-coordinator").get("/referrals")
    assert "Coordination centre worklist" in worklist.text and referral_id in worklist.text
    # Someone else's referral, not for their team: refused.
    assert _as(client, settings, "demo-vcse").get(f"/referrals/{referral_id}").status_code == 403
    nurse = _as(client, settings, "demo-community-nurse")
    assert nurse.get("/referrals/team").headers["location"] == (
        "/referrals/team/district-nursing-central"
    )
    assert nurse.post("/referrals/team/ucr-east/status", data={"status": "red"}).status_code == 403
    reported = nurse.post("/referrals/team/ucr-central/status", data={"status": "red", "note": ""})
    assert reported.status_code == 303
    assert "Red: not taking referrals" in nurse.get("/referrals/team/ucr-central").text
    bad = nurse.post("/referrals/team/ucr-central/status", data={"status": "purple"})
    assert bad.status_code == 400


def test_the_form_shows_what_to_fix(app_client: tuple[TestClient, Settings]) -> None:
    client, settings = app_client
    gp = _as(client, settings, "demo-gp")
    assert gp.get("/referrals/new").status_code == 200
    invalid = gp.post(
        "/referrals/new",
        data={**REFERRAL, "nhs_number": "9434765918", "summary": ""},
    )
    assert invalid.status_code == 422
    assert 'href="#summary"' in invalid.text
    store = gp.post("/referrals/new", data={**REFERRAL, "nhs_number": "9434765918"})
    assert store.status_code == 422 and 'href="#nhs_number"' in store.text
    unknown = gp.post("/referrals/new", data={**REFERRAL, "nhs_number": "9434765935"})
    assert unknown.status_code == 422 and "could not be identified" in unknown.text
    # A role that does not refer cannot open the form.
    assert _as(client, settings, "demo-analyst").get("/referrals/new").status_code == 403
