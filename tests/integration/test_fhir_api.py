"""The FHIR API over the joined-up record: searches, reads, paging, access and audit.

Runs the application in-process on SQLite and on PostgreSQL, with tokens from the built-in
development identity provider (its demo users work at organisations of the shipped
directory: the GP at L99021, the hospital clinician at REF).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from joinedup.access import tables as access_tables
from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.api.app import create_app
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.support.records import ANN_NHS, NHS, People, load_people

GP_PRACTICE = "L99021"  # the demo GP's practice
OTHER_PRACTICE = "L99001"


@dataclass
class Server:
    client: TestClient
    people: People
    idp: DevIdentityProvider
    sessions: Any

    def get(self, path: str, user: str | None = "demo-gp", **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.idp.issue(user)}"} if user else {}
        return self.client.get(path, params=params, headers=headers)

    def audit_count(self) -> int:
        with self.sessions() as session:
            return int(
                session.execute(
                    select(func.count()).select_from(access_tables.audit_event)
                ).scalar_one()
            )


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    settings = settings.model_copy(update={"dev_idp": True})
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    people = load_people(sessions, practice=GP_PRACTICE, other_practice=OTHER_PRACTICE)
    with TestClient(create_app(settings)) as client:
        yield Server(client, people, DevIdentityProvider(settings), sessions)
    engine.dispose()


def resources(bundle: dict[str, Any], resource_type: str | None = None) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if resource_type is None or e["resource"]["resourceType"] == resource_type
    ]


def test_metadata_is_a_capability_statement_naming_what_is_searchable(server: Server) -> None:
    response = server.get("/fhir/metadata", user=None)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    statement = response.json()
    types = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"Patient", "Observation", "Condition", "MedicationRequest", "Flag"} <= set(types)
    observation = {p["name"] for p in types["Observation"]["searchParam"]}
    assert {"patient", "code", "category", "date"} <= observation


def test_patient_by_nhs_number_is_one_joined_up_person(server: Server) -> None:
    bundle = server.get("/fhir/Patient", identifier=f"{NHS}|{ANN_NHS}").json()
    assert bundle["total"] == 1
    patient = resources(bundle)[0]
    assert patient["id"] == server.people.ann
    assert {i["value"] for i in patient["identifier"]} >= {ANN_NHS, "A1", "H77"}
    assert len(patient["link"]) == 2  # the GP's and the hospital's records


@pytest.mark.parametrize(
    "params",
    [
        {"family": "smi"},
        {"given": "Ann", "birthdate": "1948-03-27"},
        {"birthdate": "ge1948", "gender": "female"},
        {"address-postalcode": "TR18"},
        {"general-practitioner": GP_PRACTICE},
    ],
)
def test_patient_search_parameters(server: Server, params: dict[str, str]) -> None:
    bundle = server.get("/fhir/Patient", **params).json()
    assert [p["id"] for p in resources(bundle)] == [server.people.ann]


def test_searching_a_patients_record_by_code_date_and_token(server: Server) -> None:
    ann = server.people.ann
    both = server.get("/fhir/Observation", patient=ann, code="http://loinc.org|8480-6").json()
    assert both["total"] == 2
    dates = [o["effectiveDateTime"] for o in resources(both)]
    assert dates == sorted(dates, reverse=True)  # newest first
    recent = server.get("/fhir/Observation", patient=ann, date="ge2026-01-01").json()
    assert [o["valueQuantity"]["value"] for o in resources(recent)] == [148]
    older = server.get("/fhir/Observation", patient=ann, date="lt2026").json()
    assert [o["valueQuantity"]["value"] for o in resources(older)] == [139]
    assert server.get("/fhir/Observation", patient=ann, code="8480-6").json()["total"] == 2
    assert (
        server.get("/fhir/Observation", patient=ann, code="http://snomed.info/sct|8480-6").json()[
            "total"
        ]
        == 0
    )


def test_resources_name_their_partner_and_point_at_the_person(server: Server) -> None:
    bundle = server.get("/fhir/AllergyIntolerance", patient=server.people.ann).json()
    allergies = resources(bundle)
    assert {a["meta"]["source"] for a in allergies} == {
        f"urn:joinedup:partner:{GP_PRACTICE}:gp-fhir",
        "urn:joinedup:partner:REF:acute-fhir",
    }
    assert all(a["patient"]["reference"] == f"Patient/{server.people.ann}" for a in allergies)
    one = allergies[0]
    read = server.get(f"/fhir/AllergyIntolerance/{one['id']}")
    assert read.status_code == 200 and read.json()["id"] == one["id"]
    assert read.headers["etag"] == 'W/"1"'


def test_paging_links_walk_the_whole_result(server: Server) -> None:
    page = server.get(f"/fhir/Patient/{server.people.ann}/$everything", _count="3").json()
    seen = [r["resourceType"] + "/" + r["id"] for r in resources(page)]
    while nxt := next((k["url"] for k in page["link"] if k["relation"] == "next"), None):
        page = server.client.get(
            nxt, headers={"Authorization": f"Bearer {server.idp.issue('demo-gp')}"}
        ).json()
        seen += [r["resourceType"] + "/" + r["id"] for r in resources(page)]
    assert len(seen) == len(set(seen)) == page["total"] + 1  # + the joined-up Patient
    assert f"Patient/{server.people.ann}" in seen


def test_include_and_revinclude_the_patient(server: Server) -> None:
    ann = server.people.ann
    with_patient = server.get("/fhir/Condition", patient=ann, _include="Condition:patient").json()
    assert [p["id"] for p in resources(with_patient, "Patient")] == [ann]
    with_conditions = server.get("/fhir/Patient", _id=ann, _revinclude="Condition:patient").json()
    assert len(resources(with_conditions, "Condition")) == 1


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/fhir/Observation", {"code": "x"}, 400),  # no patient
        ("/fhir/Observation", {"patient": "p", "colour": "red"}, 400),
        ("/fhir/Observation", {"patient": "p", "date": "last tuesday"}, 400),
        ("/fhir/Observation", {"patient": "p", "_count": "-1"}, 400),
        ("/fhir/Patient", {"shoe-size": "9"}, 400),
        ("/fhir/Basic", {}, 404),
        ("/fhir/Condition/nothing-here", {}, 404),
    ],
)
def test_errors_are_operation_outcomes(
    server: Server, path: str, params: dict[str, str], status: int
) -> None:
    params = {k: (server.people.ann if v == "p" else v) for k, v in params.items()}
    response = server.get(path, **params)
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"


def test_injection_through_a_search_parameter_finds_nothing(server: Server) -> None:
    before = server.get("/fhir/Patient", family="Smith").json()["total"]
    hostile = server.get("/fhir/Patient", family="Smith' OR '1'='1").json()
    assert before == 1 and hostile["total"] == 0
    assert server.get("/fhir/Patient", family="%").json()["total"] == 0


def test_no_token_no_data(server: Server) -> None:
    response = server.get("/fhir/Patient", user=None, family="Smith")
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "Bearer" in response.headers["www-authenticate"]
    tampered = server.idp.issue("demo-gp")[:-4] + "AAAA"
    response = server.client.get(
        "/fhir/Patient", params={"family": "Smith"}, headers={"Authorization": f"Bearer {tampered}"}
    )
    assert response.status_code == 401


def test_another_practices_patient_is_refused_and_audited(server: Server) -> None:
    before = server.audit_count()
    response = server.get(f"/fhir/Patient/{server.people.bob}")
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "security"
    assert server.audit_count() == before + 1
    # A search simply doesn't return him.
    assert server.get("/fhir/Patient", family="Jones").json()["total"] == 0


def test_the_hospital_sees_a_patient_in_its_care(server: Server) -> None:
    ann = server.get(f"/fhir/Patient/{server.people.ann}", user="demo-hospital-clinician")
    assert ann.status_code == 200
    bob = server.get(f"/fhir/Patient/{server.people.bob}", user="demo-hospital-clinician")
    assert bob.status_code == 403


def test_analysts_get_no_person_level_data(server: Server) -> None:
    response = server.get("/fhir/Patient", user="demo-analyst", family="Smith")
    assert response.status_code == 403
    everything = server.get(f"/fhir/Patient/{server.people.ann}/$everything", user="demo-analyst")
    assert everything.status_code == 403


def test_every_person_level_read_is_audited(server: Server) -> None:
    before = server.audit_count()
    server.get(f"/fhir/Patient/{server.people.ann}")
    server.get("/fhir/Condition", patient=server.people.ann)
    assert server.audit_count() == before + 2


def test_break_glass_opens_the_record_and_the_privacy_officer_reviews_it(server: Server) -> None:
    bob, client = server.people.bob, server.client

    def as_user(subject: str) -> None:
        client.cookies.set("joinedup_session", server.idp.issue(subject))

    as_user("demo-paramedic")
    assert client.get(f"/record/{bob}").status_code == 403
    short = client.post(f"/record/{bob}/break-glass", data={"reason": "x"})
    assert short.status_code == 403  # a real reason is required
    opened = client.post(
        f"/record/{bob}/break-glass",
        data={"reason": "Collapsed in the street, no history available"},
        follow_redirects=False,
    )
    assert opened.status_code == 303
    page = client.get(f"/record/{bob}")
    assert page.status_code == 200 and "Break-glass access" in page.text
    as_user("demo-gp")
    assert client.get("/privacy").status_code == 403
    as_user("demo-privacy-officer")
    review = client.get("/privacy")
    assert review.status_code == 200
    assert "Collapsed in the street" in review.text and "Piran Jory" in review.text


def test_privacy_officers_read_the_audit_trail_as_audit_events(server: Server) -> None:
    from fhir.resources.R4B.bundle import Bundle

    server.get(f"/fhir/Patient/{server.people.bob}")  # refused, and audited
    server.get(f"/fhir/Patient/{server.people.ann}")
    assert server.get("/fhir/AuditEvent").status_code == 403  # a GP may not
    bundle = server.get(
        "/fhir/AuditEvent", user="demo-privacy-officer", patient=server.people.bob
    ).json()
    Bundle.model_validate(bundle)  # every AuditEvent is valid R4
    events = resources(bundle, "AuditEvent")
    assert len(events) == 1 and events[0]["outcome"] == "4"  # the refusal
    by_gp = server.get("/fhir/AuditEvent", user="demo-privacy-officer", agent="demo-gp").json()
    assert len(resources(by_gp)) >= 2
    page = server.get("/fhir/AuditEvent", user="demo-privacy-officer", _count="1").json()
    assert any(link["relation"] == "next" for link in page["link"])


# Each demo user against Ann (registered at L99021, in REF's care) and Bob (registered at
# L99001): what the shipped policy (src/joinedup/access/policy.yaml) lets them read.
@pytest.mark.parametrize(
    ("user", "ann", "bob"),
    [
        ("demo-gp", 200, 403),  # L99021: Ann's practice
        ("demo-hospital-clinician", 200, 403),  # REF: Ann's open admission
        ("demo-community-nurse", 403, 403),  # RJ8: no encounter, referral or care team
        ("demo-mental-health", 403, 403),
        ("demo-social-worker", 403, 403),
        ("demo-care-coordinator", 403, 403),  # on no one's care team here
        ("demo-paramedic", 403, 403),  # may break glass, has no relationship
        ("demo-analyst", 403, 403),  # never person-level data
        ("demo-privacy-officer", 403, 403),  # the audit trail, not the record
        ("demo-administrator", 403, 403),  # the person index, not the record
    ],
)
def test_each_demo_user_sees_what_the_policy_allows(
    server: Server, user: str, ann: int, bob: int
) -> None:
    assert server.get(f"/fhir/Patient/{server.people.ann}", user=user).status_code == ann
    assert server.get(f"/fhir/Patient/{server.people.bob}", user=user).status_code == bob
    everything = server.get(f"/fhir/Patient/{server.people.ann}/$everything", user=user)
    assert everything.status_code == ann


def test_sensitive_items_stay_hidden_from_roles_the_policy_leaves_out(server: Server) -> None:
    bob = server.people.bob
    # A community nurse breaks glass for Bob: the policy lets the role see safeguarding
    # items but not mental-health ones, so his depression (labelled PSY) stays hidden.
    server.client.cookies.set("joinedup_session", server.idp.issue("demo-community-nurse"))
    reason = "Found confused at home, no other history to hand"
    assert (
        server.client.post(f"/record/{bob}/break-glass", data={"reason": reason}).status_code == 200
    )
    nurse = server.get("/fhir/Condition", user="demo-community-nurse", patient=bob).json()
    assert [c["code"]["text"] for c in resources(nurse)] == ["Asthma"]
    assert nurse["total"] == 1  # the total does not give the hidden item away
    assert server.get("/fhir/Patient", user="demo-community-nurse", _id=bob).json()["total"] == 1
    # A paramedic who breaks glass may see mental-health items.
    server.client.cookies.set("joinedup_session", server.idp.issue("demo-paramedic"))
    server.client.post(f"/record/{bob}/break-glass", data={"reason": reason})
    paramedic = server.get("/fhir/Condition", user="demo-paramedic", patient=bob).json()
    assert sorted(c["code"]["text"] for c in resources(paramedic)) == [
        "Asthma",
        "Depressive disorder",
    ]


def test_an_objection_recorded_by_the_gp_limits_what_others_see(server: Server) -> None:
    ann, client = server.people.ann, server.client
    before = server.get("/fhir/AllergyIntolerance", user="demo-hospital-clinician", patient=ann)
    assert before.json()["total"] == 2  # the GP's and the hospital's
    client.cookies.set("joinedup_session", server.idp.issue("demo-hospital-clinician"))
    assert client.post(f"/record/{ann}/objection", data={"objects": "yes"}).status_code == 403
    client.cookies.set("joinedup_session", server.idp.issue("demo-gp"))
    recorded = client.post(f"/record/{ann}/objection", data={"objects": "yes"})
    assert recorded.status_code == 200 and "objects to sharing" in recorded.text
    after = server.get("/fhir/AllergyIntolerance", user="demo-hospital-clinician", patient=ann)
    assert [a["meta"]["source"] for a in resources(after.json())] == [
        "urn:joinedup:partner:REF:acute-fhir"
    ]
    assert after.json()["total"] == 1
    # The rule holds for every organisation: the practice too sees only its own items.
    gp = server.get("/fhir/AllergyIntolerance", patient=ann).json()
    assert {a["meta"]["source"] for a in resources(gp)} == {
        f"urn:joinedup:partner:{GP_PRACTICE}:gp-fhir"
    }
    client.post(f"/record/{ann}/objection", data={"objects": "no"})
    assert server.get("/fhir/AllergyIntolerance", patient=ann).json()["total"] == 2


def test_a_search_matching_too_many_people_is_refused_not_paged(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from joinedup.api import fhir

    monkeypatch.setattr(fhir, "MAX_PATIENT_MATCHES", 1)
    response = server.get("/fhir/Patient", birthdate="ge1900")  # Ann and Bob
    assert response.status_code == 400
    assert "more than 1 people match" in response.json()["issue"][0]["diagnostics"]
