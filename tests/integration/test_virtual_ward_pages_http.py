"""Virtual wards over HTTP: the team admits a patient, the patient sends readings through
their personal link (no account), NEWS2 climbs and an escalation reaches the board, the
team acknowledges and acts; a device's FHIR upload is stored once; who may see what."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from joinedup.virtual_wards import tables
from tests.support.records import ANN_NHS, BOB_NHS, load_people

WARD = "virtual-ward-frailty-central"
NHS = "https://fhir.nhs.uk/Id/nhs-number"


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


def _admit(client: TestClient, settings: Settings) -> tuple[str, str]:
    nurse = _as(client, settings, "demo-community-nurse")
    page = nurse.post(
        f"/virtual-wards/{WARD}/admit",
        data={
            "nhs_number": ANN_NHS,
            "birth_date": "1948-03-27",
            "kind": "step-up",
            "care_plan": "Chest infection and delirium; oral antibiotics at home.",
        },
    )
    assert page.status_code == 200, page.text
    link = re.search(r'href="http://testserver(/readings/[A-Za-z0-9_-]+)"', page.text)
    stay = re.search(r'action="/virtual-wards/stays/(vwa-[0-9a-f]+)/readings"', page.text)
    assert link and stay
    return link.group(1), stay.group(1)


NORMAL = {
    "respiratory_rate": "16",
    "spo2": "97",
    "air_or_oxygen": "air",
    "systolic": "132",
    "pulse": "76",
    "consciousness": "A",
    "temperature": "36.9",
}


def test_a_patient_deteriorates_and_the_team_responds(
    app: tuple[TestClient, Settings, Any],
) -> None:
    client, settings, sessions = app
    link, stay = _admit(client, settings)
    client.cookies.clear()  # the patient has no account
    form = client.get(link)
    assert form.status_code == 200 and "Send your readings" in form.text
    assert "Smith" not in form.text and ANN_NHS not in form.text  # names no one
    submission = re.search(r'name="submission" value="([0-9a-f]+)"', form.text)
    assert submission
    sent = client.post(link, data={**NORMAL, "submission": submission.group(1)})
    assert sent.status_code == 200 and "Readings sent" in sent.text
    again = client.post(link, data={**NORMAL, "submission": submission.group(1)})
    assert again.status_code == 200  # the same submission twice: stored once
    bad = client.post(link, data={**NORMAL, "spo2": "140", "submission": "x1"})
    assert bad.status_code == 422 and "Check this reading" in bad.text
    worse = client.post(
        link,
        data={
            **NORMAL,
            "respiratory_rate": "23",
            "pulse": "118",
            "consciousness": "C",
            "submission": "x2",
        },
    )
    assert worse.status_code == 200 and "Your readings need attention now" in worse.text
    with sessions() as s:
        assert len(s.execute(select(tables.observation)).all()) == 14
    nurse = _as(client, settings, "demo-community-nurse")
    board = nurse.get(f"/virtual-wards/{WARD}")
    assert board.status_code == 200
    assert "Ann SMITH" in board.text and "Emergency response" in board.text
    assert "1 of 45 virtual beds" in board.text
    page = nurse.get(f"/virtual-wards/stays/{stay}").text
    assert "7 High" in page  # resp 23 (2) + pulse 118 (2) + new confusion (3), the rest 0
    escalation = re.search(r'action="/virtual-wards/escalations/(vwe-[0-9a-f]+)/acknowledge"', page)
    version = re.search(r'name="version" value="(\d+)"', page)
    assert escalation and version
    acked = nurse.post(
        f"/virtual-wards/escalations/{escalation.group(1)}/acknowledge",
        data={"version": version.group(1)},
    )
    assert acked.status_code == 303
    stale = nurse.post(
        f"/virtual-wards/escalations/{escalation.group(1)}/act",
        data={"version": version.group(1), "action": "Visited"},
    )
    assert stale.status_code == 412
    page = nurse.get(f"/virtual-wards/stays/{stay}").text
    current = re.findall(r'name="version" value="(\d+)"', page)[0]
    done = nurse.post(
        f"/virtual-wards/escalations/{escalation.group(1)}/act",
        data={
            "version": current,
            "action": "Visited: delirium from chest infection; antibiotics changed.",
        },
    )
    assert done.status_code == 303
    assert "Visited: delirium" in nurse.get(f"/virtual-wards/stays/{stay}").text
    # The stay is in Ann's shared care record, for her GP too.
    record = _as(client, settings, "demo-gp").get(f"/record/{_person_of(sessions, stay)}").text
    section = record.split('id="virtual-wards"')[1].split("</table>")[0]
    assert "Frailty Virtual Ward, Mid Cornwall" in section and "active" in section
    audit = access_tables.audit_event
    with sessions() as s:
        who = s.execute(
            select(audit.c.user_subject, audit.c.what).where(audit.c.action == "virtual_ward.care")
        ).all()
    assert any(u == "patient-link" for u, _ in who)
    assert any(w == f"virtual ward board {WARD}" for _, w in who)


def _person_of(sessions: Any, stay: str) -> str:
    with sessions() as s:
        return str(
            s.execute(
                select(tables.admission.c.person_key).where(tables.admission.c.id == stay)
            ).scalar_one()
        )


def _observation(
    nhs: str, code: str, value: float, unit: str, at: datetime, ident: str
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "https://oximeter.example/id", "value": ident}],
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"identifier": {"system": NHS, "value": nhs}},
        "effectiveDateTime": at.isoformat(),
        "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": unit},
    }


def test_a_device_upload_is_checked_stored_once_and_scored(
    app: tuple[TestClient, Settings, Any],
) -> None:
    client, settings, sessions = app
    _admit(client, settings)
    at = datetime.now(UTC) - timedelta(minutes=5)
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": _observation(ANN_NHS, "59408-5", 91, "%", at, "u1")},
            {"resource": _observation(ANN_NHS, "8867-4", 104, "/min", at, "u2")},
        ],
    }
    nurse = _as(client, settings, "demo-community-nurse")
    first = nurse.post("/fhir/Observation", json=bundle)
    assert first.status_code == 200, first.text
    statuses = [e["response"]["status"] for e in first.json()["entry"]]
    assert statuses[:2] == ["201 Created", "201 Created"]
    said = first.json()["entry"][-1]["response"]["outcome"]["issue"][0]["diagnostics"]
    assert "NEWS2 not scored: missing" in said and "urgent-review" in said  # SpO2 91 scores 3
    resent = nurse.post("/fhir/Observation", json=bundle)
    assert [e["response"]["status"] for e in resent.json()["entry"]][:2] == ["200 OK", "200 OK"]
    fahrenheit = _observation(ANN_NHS, "8310-5", 98.6, "[degF]", at, "u3")
    refused = nurse.post("/fhir/Observation", json=fahrenheit)
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["Observation.valueQuantity.code"] or (
        "Cel" in refused.text
    )
    implausible = nurse.post(
        "/fhir/Observation", json=_observation(ANN_NHS, "8867-4", -5, "/min", at, "u4")
    )
    assert implausible.status_code == 422 and "pulse" in implausible.text
    nobody = nurse.post(
        "/fhir/Observation", json=_observation(BOB_NHS, "8867-4", 80, "/min", at, "u5")
    )
    assert nobody.status_code == 422 and "not on a virtual ward" in nobody.text
    gp = _as(client, settings, "demo-gp")
    assert (
        gp.post(
            "/fhir/Observation", json=_observation(ANN_NHS, "8867-4", 80, "/min", at, "u6")
        ).status_code
        == 403
    )
    with sessions() as s:
        assert len(s.execute(select(tables.observation)).all()) == 2


def test_only_the_wards_team_sees_its_board(app: tuple[TestClient, Settings, Any]) -> None:
    client, settings, _ = app
    _admit(client, settings)
    assert (
        _as(client, settings, "demo-community-nurse").get("/virtual-wards").headers["location"]
        == f"/virtual-wards/{WARD}"
    )
    for subject in ("demo-gp", "demo-hospital-clinician", "demo-analyst"):
        assert _as(client, settings, subject).get(f"/virtual-wards/{WARD}").status_code == 403, (
            subject
        )
    assert client.get("/readings/not-a-real-token").status_code == 404


def test_a_referral_to_the_ward_becomes_an_admission(app: tuple[TestClient, Settings, Any]) -> None:
    client, settings, sessions = app
    gp = _as(client, settings, "demo-gp")
    sent = gp.post(
        "/referrals/new",
        data={
            "nhs_number": ANN_NHS,
            "birth_date": "1948-03-27",
            "need": "frailty",
            "urgency": "same_day",
            "summary": "More frail and confused this week; daughter can read an oximeter.",
        },
    )
    referral_id = sent.headers["location"].rsplit("/", 1)[1]
    coordinator = _as(client, settings, "demo-care-coordinator")
    version = re.search(
        r'name="version" value="(\d+)"', coordinator.get(f"/referrals/{referral_id}").text
    )
    assert version
    routed = coordinator.post(
        f"/referrals/{referral_id}/act",
        data={
            "action": "redirect",
            "version": version.group(1),
            "service": WARD,
            "reason": "Step-up to the frailty virtual ward",
        },
    )
    assert routed.status_code == 303
    nurse = _as(client, settings, "demo-community-nurse")
    page = nurse.get(f"/referrals/{referral_id}").text
    assert f'href="/virtual-wards/{WARD}/admit?referral={referral_id}"' in page
    form = nurse.get(f"/virtual-wards/{WARD}/admit", params={"referral": referral_id}).text
    assert "More frail and confused this week" in form and 'name="nhs_number"' not in form
    admitted = nurse.post(
        f"/virtual-wards/{WARD}/admit",
        data={
            "referral_id": referral_id,
            "kind": "step-up",
            "care_plan": "Frailty with delirium; step-up.",
        },
    )
    assert admitted.status_code == 200 and "personal link" in admitted.text
    with sessions() as s:
        row = s.execute(select(tables.admission)).one()
    assert row.referral_id == referral_id and row.kind == "step-up"
    # A referral that is not to this ward can't be used to admit.
    assert (
        nurse.get(f"/virtual-wards/{WARD}/admit", params={"referral": "ref-nothing"}).status_code
        == 404
    )
