"""Self-referral: the public form (no account), the same answer whether or not the person is
known, held self-referrals identified or closed by the coordination centre, all audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from joinedup.access import tables as access_tables
from joinedup.access.deps import SESSION_COOKIE
from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.api.app import create_app
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.referrals import tables
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.support.records import ANN_NHS, load_people

#: Ann Smith (born 27 March 1948, TR18 2AB) referring herself, without her NHS number.
ANN: dict[str, str] = {
    "given": "Ann",
    "family": "Smith",
    "birth_day": "27",
    "birth_month": "3",
    "birth_year": "1948",
    "postcode": "tr18 2ab",
    "nhs_number": "",
    "phone": "01736 123456",
    "need": "loneliness",
    "summary": "Since my husband died I hardly see anyone and I would like some company.",
    "consent": "yes",
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Settings, Any]]:
    settings = Settings(var_dir=tmp_path, dev_idp=True)
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    load_people(sessions, practice="L99021", other_practice="L99001")
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client, settings, sessions
    engine.dispose()


def _as(client: TestClient, settings: Settings, subject: str) -> TestClient:
    client.cookies.set(SESSION_COOKIE, DevIdentityProvider(settings).issue(subject))
    return client


def _reference(html: str) -> str:
    found = re.search(r'id="reference">(self-[0-9a-f]+)<', html)
    assert found is not None, html
    return found.group(1)


def test_the_public_form_needs_no_account_and_offers_only_self_referral_needs(
    app: tuple[TestClient, Settings, Any],
) -> None:
    client, _, _ = app
    page = client.get("/self-referral")
    assert page.status_code == 200
    assert "Call 999" in page.text and 'name="need"' in page.text
    offered = set(re.findall(r'name="need" type="radio" value="([a-z_]+)"', page.text))
    # Services taking self-referrals at a routine pace (the directory's profiles): social
    # work, falls prevention, social prescribing, befriending, carers, palliative care.
    assert offered == {
        "care_and_support",
        "personal_care",
        "carer_strain",
        "fall",
        "frailty",
        "loneliness",
        "wellbeing",
        "end_of_life",
    }
    assert "emergency" not in offered and "mental_health_crisis" not in offered


def test_a_known_person_is_referred_at_once_and_sees_what_anyone_would(
    app: tuple[TestClient, Settings, Any],
) -> None:
    client, settings, sessions = app
    known = client.post("/self-referral", data=ANN)
    stranger = client.post(
        "/self-referral", data={**ANN, "given": "Nobody", "family": "Known", "postcode": "PL1 1AA"}
    )
    assert known.status_code == stranger.status_code == 200
    # The same page apart from the reference: the form tells no one who the NHS knows.
    assert known.text.replace(_reference(known.text), "") == stranger.text.replace(
        _reference(stranger.text), ""
    )
    with sessions() as session:
        held = {r.id: r for r in session.execute(select(tables.self_referral)).all()}
        taken = session.execute(select(tables.referral)).one()
    ann_ref, stranger_ref = _reference(known.text), _reference(stranger.text)
    assert held[ann_ref].status == "referred" and held[ann_ref].referral_id == taken.id
    assert held[stranger_ref].status == "to-identify" and held[stranger_ref].referral_id is None
    assert taken.channel == "self" and taken.source == "self" and taken.urgency == "routine"
    assert taken.referrer_org == "self-referral" and "01736 123456" in taken.summary
    # Routed to a service that takes self-referrals for loneliness.
    assert taken.proposed_service in {"befriending", "social-prescribing"}
    # It is in Ann's record, as a ServiceRequest whose requester is Ann herself.
    gp = _as(client, settings, "demo-gp")
    record = gp.get(f"/fhir/ServiceRequest?patient={taken.person_key}").json()
    request = record["entry"][0]["resource"]
    assert request["requester"]["display"] == "The person themselves (self-referral)"
    audit = access_tables.audit_event
    with sessions() as session:
        entries = session.execute(
            select(audit.c.user_subject, audit.c.person_key, audit.c.reason).where(
                audit.c.action == "referral.create"
            )
        ).all()
    assert ("public", taken.person_key, "self-referral taken") in entries
    assert ("public", None, "self-referral held to identify") in entries


def test_the_form_says_what_to_fix_and_keeps_nothing(
    app: tuple[TestClient, Settings, Any],
) -> None:
    client, _, sessions = app
    bad = client.post(
        "/self-referral",
        data={
            **ANN,
            "birth_month": "13",
            "postcode": "nowhere",
            "need": "emergency",
            "consent": "",
        },
    )
    assert bad.status_code == 422 and "nhsuk-error-summary" in bad.text
    for words in (
        "date of birth as a real date",
        "Enter a real postcode",
        "Select what you need help with",
        "Confirm that the team may read",
    ):
        assert words in bad.text
    assert 'value="Smith"' in bad.text  # what was typed is kept
    with sessions() as session:
        assert session.execute(select(tables.self_referral)).all() == []


def test_the_centre_identifies_a_held_self_referral_or_closes_it(
    app: tuple[TestClient, Settings, Any],
) -> None:
    client, settings, sessions = app
    # Ann gives the postcode she has moved to: the index can't place her.
    first = _reference(client.post("/self-referral", data={**ANN, "postcode": "TR1 3LQ"}).text)
    second = _reference(client.post("/self-referral", data={**ANN, "postcode": "TR1 3LQ"}).text)
    assert _as(client, settings, "demo-gp").get(f"/referrals/self/{first}").status_code == 403
    coordinator = _as(client, settings, "demo-care-coordinator")
    worklist = coordinator.get("/referrals").text
    assert "Self-referrals to identify" in worklist and first in worklist and second in worklist
    assert "Smith" not in worklist  # the list names no one
    page = coordinator.get(f"/referrals/self/{first}")
    assert page.status_code == 200 and "TR1 3LQ" in page.text and "01736 123456" in page.text
    wrong = coordinator.post(
        f"/referrals/self/{first}/identify",
        data={"nhs_number": "9434765927", "birth_date": "1948-03-27"},  # Bob's number
    )
    assert wrong.status_code == 422  # Bob's number with Ann's date of birth: no one
    taken = coordinator.post(
        f"/referrals/self/{first}/identify",
        data={"nhs_number": ANN_NHS, "birth_date": "1948-03-27"},
    )
    assert taken.status_code == 303
    referral_id = taken.headers["location"].rsplit("/", 1)[1]
    again = coordinator.post(
        f"/referrals/self/{first}/identify",
        data={"nhs_number": ANN_NHS, "birth_date": "1948-03-27"},
    )
    assert again.status_code == 409  # taken once only
    assert (
        coordinator.post(f"/referrals/self/{second}/close", data={"reason": ""}).status_code == 400
    )
    closed = coordinator.post(
        f"/referrals/self/{second}/close", data={"reason": "Duplicate of " + first}
    )
    assert closed.status_code == 303
    with sessions() as session:
        rows = {r.id: r for r in session.execute(select(tables.self_referral)).all()}
        referral = session.execute(
            select(tables.referral).where(tables.referral.c.id == referral_id)
        ).one()
    assert rows[first].status == "referred" and rows[first].referral_id == referral_id
    assert rows[second].status == "closed" and rows[second].reason == "Duplicate of " + first
    assert referral.channel == "self" and referral.authored_at < referral.received_at
    assert first not in coordinator.get("/referrals").text
