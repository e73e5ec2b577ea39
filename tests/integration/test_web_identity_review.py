"""The identity review page: pairs side by side with the model's reasons; decisions applied."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.api.app import create_app
from joinedup.feeds.model import Message, MessageFormat, PersonDetails, Unit
from joinedup.feeds.pipeline import take_units
from joinedup.identity import tables
from joinedup.identity.index import current_link, source_record_id
from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory

AT = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def client_and_pair(settings: Settings) -> Iterator[tuple[TestClient, Settings, int, int]]:
    settings = settings.model_copy(update={"dev_idp": True})
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    message = Message("L99001", "gp-fhir", MessageFormat.FHIR_NDJSON, b"", AT, "gp")
    units = [
        Unit(
            label="a",
            message_id="a",
            original=b"a",
            person=PersonDetails(
                "A", "9434765919", "ELIZABETH", "PASCOE", date(1950, 3, 4), "female", "TR18 4AB"
            ),
        ),
        Unit(
            label="b",
            message_id="b",
            original=b"b",
            person=PersonDetails(
                "B", None, "LIZ", "PASCOE", date(1950, 3, 4), "female", "TR18 4AB"
            ),
        ),
    ]
    take_units(sessions, message, units)
    with sessions() as session, session.begin():
        left = source_record_id(session, partner="L99001", feed="gp-fhir", local_id="A")
        right = source_record_id(session, partner="L99001", feed="gp-fhir", local_id="B")
        assert left and right
        session.execute(
            tables.review.insert().values(
                left_id=left,
                right_id=right,
                reason="probable_match",
                match_probability=0.93,
                match_weight=3.7,
                explanation={"given_name": -1.2, "birth_date": 6.4},
                status="open",
                created_at=AT,
            )
        )
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        token = DevIdentityProvider(settings).issue("demo-administrator")
        client.cookies.set("joinedup_session", token)
        yield client, settings, left, right


def test_the_page_shows_both_records_and_the_reasons(
    client_and_pair: tuple[TestClient, Settings, int, int],
) -> None:
    client, _, _, _ = client_and_pair
    page = client.get("/identity/review")
    assert page.status_code == 200
    html = page.text
    assert "ELIZABETH" in html and "LIZ" in html and "differs" in html
    assert "Date of birth" in html and "+6.40" in html and "-1.20" in html


def test_a_decision_links_the_records_and_empties_the_queue(
    client_and_pair: tuple[TestClient, Settings, int, int],
) -> None:
    client, settings, left, right = client_and_pair
    [item_id] = [1]
    answer = client.post(
        f"/identity/review/{item_id}",
        data={"decision": "link"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "queue is empty" in client.get(answer.headers["location"]).text
    engine = make_engine(settings)
    with session_factory(engine)() as session:
        assert current_link(session, left)[0] == current_link(session, right)[0]  # type: ignore[index]
    engine.dispose()
    again = client.post(f"/identity/review/{item_id}", data={"decision": "link"})
    assert "already decided" in again.text


def test_only_the_roles_the_policy_names_may_review(
    client_and_pair: tuple[TestClient, Settings, int, int],
) -> None:
    client, settings, _, _ = client_and_pair
    client.cookies.set("joinedup_session", DevIdentityProvider(settings).issue("demo-gp"))
    assert client.get("/identity/review").status_code == 403
    assert client.post("/identity/review/1", data={"decision": "link"}).status_code == 403
    client.cookies.clear()
    signed_out = client.get("/identity/review", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
