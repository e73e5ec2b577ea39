"""The single point of access end to end on SQLite and PostgreSQL: a referral taken in
(over FHIR as BaRS carries it), routed, worked by the coordination centre and a team, kept
in the person's shared care record, with bad input refused and nothing half-written."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.api.app import create_app
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.feeds.model import PersonDetails
from joinedup.referrals import tables
from joinedup.referrals.model import Action, ReferralError, Status
from joinedup.referrals.rules import load_rules
from joinedup.referrals.store import Actor, Centre, NewReferral, history, read_referral
from joinedup.settings import DEFAULT_DIRECTORY, DEFAULT_ROUTING_RULES, Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.support.records import ANN_NHS, NHS, People, load_people

GP_PRACTICE = "L99021"
#: A Wednesday at 10:00 in Cornwall (GMT): every daytime service is open.
WEDNESDAY_MORNING = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
NEED_SYSTEM = "https://joinedup.nhs.uk/CodeSystem/referral-need"
URGENCY_SYSTEM = "https://joinedup.nhs.uk/CodeSystem/referral-urgency"


@dataclass
class Server:
    client: TestClient
    people: People
    idp: DevIdentityProvider
    sessions: Any

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.idp.issue(user)}"}

    def post(self, path: str, body: Any, user: str = "demo-gp") -> Any:
        return self.client.post(path, json=body, headers=self.headers(user))

    def get(self, path: str, user: str = "demo-gp", **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers(user))

    def count(self, table: Any) -> int:
        with self.sessions() as session:
            return int(session.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    settings = settings.model_copy(update={"dev_idp": True})
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    people = load_people(sessions, practice=GP_PRACTICE, other_practice="L99001")
    with TestClient(create_app(settings)) as client:
        yield Server(client, people, DevIdentityProvider(settings), sessions)
    engine.dispose()


def bars_message(message_id: str = "6f1c5e1a-0000-4000-8000-000000000001") -> dict[str, Any]:
    """A BaRS referral: a GP refers Ann (frail, 78) after a fall, for a 2-hour response."""
    return {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [
            {
                "fullUrl": "urn:uuid:header",
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": message_id,
                    "eventCoding": {
                        "system": "https://fhir.nhs.uk/CodeSystem/message-events-bars",
                        "code": "servicerequest-request",
                    },
                    "source": {"endpoint": "https://gp.example.nhs.uk/bars"},
                    "focus": [{"reference": "urn:uuid:request"}],
                },
            },
            {
                "fullUrl": "urn:uuid:request",
                "resource": {
                    "resourceType": "ServiceRequest",
                    "status": "active",
                    "intent": "order",
                    "priority": "asap",
                    "category": [{"coding": [{"system": URGENCY_SYSTEM, "code": "two_hour"}]}],
                    "code": {"coding": [{"system": NEED_SYSTEM, "code": "fall"}]},
                    "subject": {"reference": "urn:uuid:patient"},
                    "encounter": {"reference": "urn:uuid:encounter"},
                    "authoredOn": "2026-12-02T09:55:00+00:00",
                    "reasonCode": [{"text": "Fall at home this morning, not injured, frail."}],
                },
            },
            {
                "fullUrl": "urn:uuid:patient",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": NHS, "value": ANN_NHS}],
                    "birthDate": "1948-03-27",
                },
            },
            {
                "fullUrl": "urn:uuid:encounter",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"code": "VR"},
                },
            },
        ],
    }


def test_a_bars_referral_is_taken_routed_and_kept_in_the_record(server: Server) -> None:
    response = server.post("/fhir/$process-message", bars_message())
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["entry"][0]["resource"]["response"]["code"] == "ok"
    task = reply["entry"][1]["resource"]
    assert task["resourceType"] == "Task"
    assert task["status"] == "received"
    assert task["for"]["reference"] == f"Patient/{server.people.ann}"
    # The 2-hour clock starts at receipt.
    start = datetime.fromisoformat(task["executionPeriod"]["start"])
    due = datetime.fromisoformat(task["restriction"]["period"]["end"])
    assert (due - start).total_seconds() == 2 * 3600
    # The referral is in Ann's shared care record, from the GP's organisation.
    found = server.get("/fhir/ServiceRequest", patient=f"Patient/{server.people.ann}").json()
    requests = [e["resource"] for e in found["entry"]]
    assert [r["code"]["coding"][0]["code"] for r in requests] == ["fall"]
    assert requests[0]["status"] == "active"


def test_the_same_message_again_is_a_409_and_stored_once(server: Server) -> None:
    assert server.post("/fhir/$process-message", bars_message()).status_code == 200
    again = server.post("/fhir/$process-message", bars_message())
    assert again.status_code == 409
    assert again.json()["issue"][0]["code"] == "duplicate"
    assert server.count(tables.referral) == 1


def test_a_second_open_referral_for_the_same_need_is_flagged_a_duplicate(server: Server) -> None:
    first = server.post("/fhir/$process-message", bars_message("m-1")).json()
    second = server.post("/fhir/$process-message", bars_message("m-2")).json()
    task = second["entry"][1]["resource"]
    assert task["businessStatus"]["coding"][0]["code"] == "possible-duplicate"
    with server.sessions() as session:
        referral = read_referral(session, task["id"])
    assert referral is not None
    assert referral.duplicate_of == first["entry"][1]["resource"]["id"]


@pytest.mark.parametrize(
    ("change", "status", "where"),
    [
        (
            lambda m: m["entry"][2]["resource"].update(
                identifier=[{"system": NHS, "value": "9434765870"}]
            ),
            422,
            "Bundle.entry[2].resource",
        ),
        (
            lambda m: m["entry"][2]["resource"]["identifier"][0].update(value="1234567890"),
            422,
            "Bundle.entry[2].resource.identifier",
        ),
        (
            lambda m: m["entry"][1]["resource"].update(authoredOn="2099-01-01T00:00:00+00:00"),
            422,
            "Bundle.entry[1].resource.authoredOn",
        ),
        (
            lambda m: m["entry"][1]["resource"].update(reasonCode=[]),
            422,
            "Bundle.entry[1].resource.reasonCode",
        ),
        (
            lambda m: m["entry"][1]["resource"].update(
                performer=[
                    {
                        "identifier": {
                            "system": "https://joinedup.nhs.uk/Id/directory-service",
                            "value": "no-such-service",
                        }
                    }
                ]
            ),
            404,
            "Bundle.entry[1].resource.performer",
        ),
        (
            lambda m: m["entry"][1]["resource"].update(
                code={"coding": [{"system": NEED_SYSTEM, "code": "haircut"}]}
            ),
            422,
            "Bundle.entry[1].resource.code",
        ),
        (lambda m: m["entry"].pop(3), 422, "Bundle.entry[1].resource.encounter"),
        (lambda m: m.update(type="transaction"), 400, "Bundle.type"),
    ],
    ids=[
        "unknown-person",
        "bad-nhs-number",
        "future-date",
        "no-reason",
        "no-such-service",
        "unknown-need",
        "no-encounter",
        "not-a-message",
    ],
)
def test_bad_referrals_get_an_operation_outcome_and_nothing_is_written(
    server: Server, change: Any, status: int, where: str
) -> None:
    message = copy.deepcopy(bars_message())
    change(message)
    response = server.post("/fhir/$process-message", message)
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert where in [e for issue in outcome["issue"] for e in issue["expression"]]
    assert ANN_NHS not in response.text  # no identifiers in errors
    assert server.count(tables.referral) == 0
    assert server.count(tables.referral_event) == 0


def test_a_role_that_cannot_refer_is_refused(server: Server) -> None:
    response = server.post("/fhir/$process-message", bars_message(), user="demo-analyst")
    assert response.status_code == 403
    assert server.count(tables.referral) == 0


def test_the_task_lifecycle_over_fhir_with_if_match(server: Server) -> None:
    task = server.post("/fhir/$process-message", bars_message()).json()["entry"][1]["resource"]
    path = f"/fhir/Task/{task['id']}"
    # The GP who referred may read it; the coordinator may; the nurse (not yet her team) not.
    assert server.get(path).status_code == 200
    read = server.get(path, user="demo-care-coordinator")
    assert read.status_code == 200
    assert server.get(path, user="demo-community-nurse").status_code == 403
    etag = read.headers["ETag"]
    # The coordinator redirects it to the central UCR team (the demo nurse's), with a reason.
    body = {
        **read.json(),
        "status": "accepted",
        "owner": {"identifier": {"value": "ucr-central"}},
        "statusReason": {"text": "west team on a major incident"},
    }
    no_match = server.client.put(path, json=body, headers=server.headers("demo-care-coordinator"))
    assert no_match.status_code == 428
    accepted = server.client.put(
        path, json=body, headers={**server.headers("demo-care-coordinator"), "If-Match": etag}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["owner"]["identifier"]["value"] == "ucr-central"
    # A second update with the old ETag loses nothing: it is refused.
    stale = server.client.put(
        path,
        json={**body, "status": "rejected"},
        headers={**server.headers("demo-care-coordinator"), "If-Match": etag},
    )
    assert stale.status_code == 412
    # The team sees it in its queue, makes first contact and completes it.
    queue = server.get("/fhir/Task", user="demo-community-nurse", owner="ucr-central").json()
    assert [e["resource"]["id"] for e in queue["entry"]] == [task["id"]]
    current = accepted.json()
    for status in ("in-progress", "completed"):
        response = server.client.put(
            path,
            json={**current, "status": status},
            headers={
                **server.headers("demo-community-nurse"),
                "If-Match": f'W/"{current["meta"]["versionId"]}"',
            },
        )
        assert response.status_code == 200, response.text
        current = response.json()
    assert current["status"] == "completed"
    assert current["output"][0]["valueDateTime"]
    # The coordinator can't complete what is not theirs to complete; the nurse can't decline.
    with server.sessions() as session:
        steps = [e.action for e in history(session, task["id"])]
    assert steps == ["requested", "received", "redirect", "start", "complete"]
    found = server.get("/fhir/ServiceRequest", patient=f"Patient/{server.people.ann}").json()
    assert found["entry"][0]["resource"]["status"] == "completed"


def test_routing_proposes_the_local_two_hour_team_with_reasons(server: Server) -> None:
    centre = Centre(load_directory(DEFAULT_DIRECTORY), load_rules(DEFAULT_ROUTING_RULES))
    gp = Actor("demo-gp", "Dr Morwenna Penrose", GP_PRACTICE)
    new = NewReferral(
        channel="form",
        source="gp",
        referrer=gp,
        need="fall",
        urgency="two_hour",
        summary="Fall at home, frail, lives alone.",
        patient=PersonDetails(local_id="", nhs_number=ANN_NHS, birth_date=date(1948, 3, 27)),
    )
    with server.sessions.begin() as session:
        referral = centre.take(session, new, WEDNESDAY_MORNING)
    assert referral.proposed_service == "ucr-west"  # Ann lives in Penzance (TR18)
    best = referral.proposals[0]
    assert best["eligible"]
    assert "handles a fall, or at risk of falling" in best["for"]
    assert any("West" in reason for reason in best["for"])
    others = {p["service"]: p for p in referral.proposals}
    assert not others["ucr-central"]["eligible"]
    assert any("does not cover" in r for r in others["ucr-central"]["against"])
    # The team returns it (a bounce): back to the centre, counted, and not proposed again.
    nurse = Actor("demo-community-nurse", "Tamsin Rowe", "RJ8")
    with server.sessions.begin() as session:
        centre.act(session, referral.id, Action.ACCEPT, gp, WEDNESDAY_MORNING)
        back = centre.act(
            session,
            referral.id,
            Action.BOUNCE,
            nurse,
            WEDNESDAY_MORNING,
            reason="no staff until noon",
        )
    assert back.status is Status.RECEIVED
    assert back.bounces == 1
    assert back.proposed_service != "ucr-west"
    with pytest.raises(ReferralError) as refused, server.sessions.begin() as session:
        centre.act(session, referral.id, Action.DECLINE, gp, WEDNESDAY_MORNING)
    assert refused.value.status == 400  # a decline needs a reason


def test_a_synthetic_flow_is_worked_through_and_the_dashboard_counts_it(server: Server) -> None:
    from joinedup.referrals.measures import measures
    from joinedup.referrals.synthetic import generate_flow

    centre = Centre(load_directory(DEFAULT_DIRECTORY), load_rules(DEFAULT_ROUTING_RULES))
    report = generate_flow(
        server.sessions, centre, days=14, per_day=6, until=WEDNESDAY_MORNING, seed=7
    )
    assert report.referrals > 50
    assert report.completed > report.referrals // 2
    ucr = frozenset({"ucr-west", "ucr-central", "ucr-east"})
    with server.sessions() as session:
        m = measures(
            session,
            since=None,
            until=None,
            now=WEDNESDAY_MORNING,
            ucr_services=ucr,
            at_risk_after=0.75,
        )
    assert m.received == report.referrals
    assert sum(m.by_source.values()) == m.received
    assert m.ucr_counted > 0 and m.ucr_two_hour is not None
    assert 40 <= m.ucr_two_hour <= 100  # about four in five on time, by construction
    assert m.routed_right_first_time is not None and m.routed_right_first_time > 80
    page = server.get("/referrals/dashboard", user="demo-analyst", period="all")
    assert page.status_code == 200
    assert "Two-hour urgent community response" in page.text
    assert f'<dd class="nhsuk-summary-list__value">{m.received}' in page.text
    assert server.get("/referrals/dashboard", user="demo-administrator").status_code == 403


def test_a_referral_keeps_the_persons_name_in_their_record(server: Server) -> None:
    assert server.post("/fhir/$process-message", bars_message()).status_code == 200
    patient = server.get(f"/fhir/Patient/{server.people.ann}").json()
    assert patient["name"][0]["family"] == "Smith"


def test_a_bad_task_search_is_a_400_not_a_crash(server: Server) -> None:
    response = server.get("/fhir/Task", user="demo-care-coordinator", status="lost")
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
