"""Population health's pages through the app: who may see them, what they show, the PDF,
and worklists that name only the people the user has a legitimate relationship with."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from joinedup.access import tables as access_tables
from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.access.store import record_objection
from joinedup.api.app import create_app
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.population.lake import refresh_lake
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from tests.support.records import People, load_hypertensive, load_people

AS_OF = date(2026, 11, 30)
COHORT = "hypertension-above-target"  # under 80, last systolic in 12 months 140 or more


@pytest.fixture
def world(settings: Settings, sessions: sessionmaker[Session]) -> dict[str, str]:
    """Ann (L99021, systolic 148) and Bob (L99001) from the shared fixtures; Cora at L99021
    (systolic 160) who objects to sharing; Dai at L99001 (systolic 170); Eve at L99021
    whose pressure is at target (128). The lake refreshed on AS_OF."""
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    people: People = load_people(sessions, practice="L99021", other_practice="L99001")
    keys = {"ann": people.ann, "bob": people.bob}
    for name, nhs, practice, systolic in (
        ("cora", "9434766001", "L99021", 160),
        ("dai", "9434766028", "L99001", 170),
        ("eve", "9434766036", "L99021", 128),
    ):
        keys[name] = load_hypertensive(
            sessions,
            nhs=nhs,
            local=name.upper(),
            family=name.capitalize() + "son",
            practice=practice,
            systolic=systolic,
        )
    with sessions.begin() as session:
        record_objection(session, keys["cora"], "demo-gp", datetime.now(UTC))
    with sessions() as session:
        refresh_lake(session, settings.lake_dir, reference_dir=None, as_of=AS_OF)
    return keys


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"dev_idp": True}))) as c:
        yield c


def sign_in(client: TestClient, settings: Settings, username: str) -> None:
    client.cookies.set(
        "joinedup_session",
        DevIdentityProvider(settings.model_copy(update={"dev_idp": True})).issue(username),
    )


def test_pages_are_for_roles_that_read_aggregate_figures(
    client: TestClient, settings: Settings, world: dict[str, str]
) -> None:
    assert client.get("/population", follow_redirects=False).status_code == 303  # sign in
    for username in ("demo-paramedic", "demo-privacy-officer", "demo-administrator"):
        sign_in(client, settings, username)
        assert client.get("/population").status_code == 403, username
    for username in ("demo-analyst", "demo-gp", "demo-social-worker"):
        sign_in(client, settings, username)
        page = client.get("/population")
        assert page.status_code == 200, username
        assert "Bridges to Health" in page.text and "Indicators" in page.text


def test_the_dashboard_draws_accessible_charts_and_names_no_one(
    client: TestClient, settings: Settings, world: dict[str, str]
) -> None:
    sign_in(client, settings, "demo-analyst")
    page = client.get("/population").text
    charts = re.findall(r"<svg [^>]*aria-labelledby=.*?</svg>", page, flags=re.DOTALL)
    assert len(charts) >= 2  # segments and prevalence (no risk model before a run)
    for chart in charts:
        svg = ElementTree.fromstring(chart)  # well formed, titled and described
        labels = {e.get("id") for e in svg.iter() if e.get("id")}
        assert set(svg.get("aria-labelledby", "").split()) <= labels
    for identifier in ("Smith", "Jones", "9434765919", "Coraso"):
        assert identifier not in page


def test_a_cohort_page_gives_attrition_and_a_breakdown(
    client: TestClient, settings: Settings, world: dict[str, str]
) -> None:
    sign_in(client, settings, "demo-analyst")
    page = client.get(f"/population/cohorts/{COHORT}?by=practice")
    assert page.status_code == 200
    # Entry: the four hypertensives; under 80: all; a reading in 12 months: all; Eve's 128
    # is at target.
    attrition = page.text.split('id="attrition"')[2].split("</table>")[0]
    cells = [c.split("<")[0] for c in attrition.split('nhsuk-table__cell--numeric">')[1:]]
    assert cells == ["4", "0", "4", "0", "4", "0", "3", "1"]
    # Three people in two practices: each group under five, so suppressed.
    assert "fewer than 5" in page.text and "suppressed" in page.text
    assert client.get("/population/cohorts/no-such-cohort").status_code == 404
    assert client.get(f"/population/cohorts/{COHORT}?by=bogus").status_code == 200
    assert client.get("/population/indicators/frailty?by=area").status_code == 200
    assert client.get("/population/indicators/no-such").status_code == 404


def test_the_needs_assessment_is_a_page_and_a_pdf(
    client: TestClient, settings: Settings, world: dict[str, str]
) -> None:
    sign_in(client, settings, "demo-gp")
    page = client.get("/population/report")
    assert page.status_code == 200
    for section in ("Recorded prevalence against expected", "Demand projected", "Inequality gaps"):
        assert section in page.text
    pdf = client.get("/population/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 20_000


def test_a_worklist_names_only_related_people_and_audits_each(
    client: TestClient,
    settings: Settings,
    sessions: sessionmaker[Session],
    world: dict[str, str],
) -> None:
    """The GP at L99021 sees Ann (registered there, above target); not Cora (objects to
    sharing), not Dai (another practice), not Eve (at target), not Bob (no hypertension)."""
    sign_in(client, settings, "demo-gp")
    page = client.get(f"/population/cohorts/{COHORT}/worklist")
    assert page.status_code == 200
    assert "SMITH" in page.text
    for other in ("CORASON", "DAISON", "EVESON", "JONES"):
        assert other not in page.text
    assert f'href="/record/{world["ann"]}"' in page.text
    audit = access_tables.audit_event
    with sessions() as session:
        entries = session.execute(
            select(audit.c.person_key, audit.c.outcome).where(
                audit.c.action == "population.worklist"
            )
        ).all()
    assert entries == [(world["ann"], "success")]  # one read, of the one person shown

    sign_in(client, settings, "demo-analyst")  # counts only, never names
    assert client.get(f"/population/cohorts/{COHORT}/worklist").status_code == 403
    sign_in(client, settings, "demo-hospital-clinician")
    assert client.get(f"/population/cohorts/{COHORT}/worklist").status_code == 403


def test_without_a_lake_the_pages_say_so(
    client: TestClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, settings, "demo-analyst")
    page = client.get("/population")
    assert page.status_code == 503 and "lake refresh" in page.text


def test_a_gp_refers_the_worklist_in_one_step(
    client: TestClient,
    settings: Settings,
    sessions: sessionmaker[Session],
    world: dict[str, str],
) -> None:
    """Proactive referral: the GP picks people on the worklist and refers them all at once;
    only people on the user's worklist can be referred; an open referral is not repeated."""
    from joinedup.referrals import tables as referral_tables

    sign_in(client, settings, "demo-gp")
    page = client.get(f"/population/cohorts/{COHORT}/worklist").text
    assert f'name="person" type="checkbox" value="{world["ann"]}" checked' in page
    assert "Refer the people selected" in page
    form = {
        "need": "wellbeing",
        "urgency": "routine",
        "summary": "Blood pressure above target: a health coach and social prescribing.",
    }
    url = f"/population/cohorts/{COHORT}/refer"
    # Dai is in the cohort but not on this GP's worklist (another practice): refused whole.
    refused = client.post(url, data={**form, "person": [world["ann"], world["dai"]]})
    assert refused.status_code == 422 and "no longer on your worklist" in refused.text
    assert client.post(url, data=form).status_code == 422  # no one picked
    referral = referral_tables.referral
    with sessions() as session:
        assert session.execute(select(referral)).all() == []
    sent = client.post(url, data={**form, "person": [world["ann"]]})
    assert sent.status_code == 200 and "1 person referred" in sent.text
    with sessions() as session:
        (row,) = session.execute(select(referral)).all()
    assert (row.person_key, row.channel, row.cohort, row.source) == (
        world["ann"],
        "proactive",
        COHORT,
        "gp",
    )
    assert row.proposed_service is not None  # routed like any referral
    again = client.post(url, data={**form, "person": [world["ann"]]})
    assert "0 people referred" in again.text and "already referred for this need" in again.text
    sign_in(client, settings, "demo-analyst")
    assert client.post(url, data={**form, "person": [world["ann"]]}).status_code == 403
