"""The outbox delivered to a real HTTP receiver standing in for a partner's system: a 2xx
delivers, a failure is retried with growing waits until it is dead (on the dead-letter list,
and put back by a retry), and one endpoint down never stops another being delivered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from joinedup.api.referrals import add_subscription
from joinedup.cli.main import app
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.feeds.model import PersonDetails
from joinedup.referrals import tables
from joinedup.referrals.model import Action, Referral
from joinedup.referrals.notify import DeliveryReport, Dispatcher, dead_letters, deliver_due, retry
from joinedup.referrals.rules import load_rules
from joinedup.referrals.store import Actor, Centre, NewReferral
from joinedup.settings import DEFAULT_DIRECTORY, DEFAULT_ROUTING_RULES, Settings
from tests.support.records import ANN_NHS, load_people

GP_PRACTICE = "L99021"
#: A Wednesday at 10:00 in Cornwall (GMT): every daytime service is open.
WEDNESDAY_MORNING = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
GP = Actor("demo-gp", "Dr Morwenna Penrose", GP_PRACTICE)
runner = CliRunner()


@dataclass
class Receiver:
    """A partner's system: answers every POST with ``status`` and keeps what it got."""

    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(
                {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
            )
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/fhir/notify"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def centre(sessions: sessionmaker[Session]) -> Centre:
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    load_people(sessions, practice=GP_PRACTICE, other_practice="L99001")
    return Centre(load_directory(DEFAULT_DIRECTORY), load_rules(DEFAULT_ROUTING_RULES))


def routed_referral(sessions: sessionmaker[Session], centre: Centre) -> Referral:
    """Ann, referred by her GP after a fall, accepted to the proposed team (ucr-west)."""
    new = NewReferral(
        channel="form",
        source="gp",
        referrer=GP,
        need="fall",
        urgency="two_hour",
        summary="Fall at home, frail, lives alone.",
        patient=PersonDetails(local_id="", nhs_number=ANN_NHS, birth_date=date(1948, 3, 27)),
    )
    with sessions.begin() as session:
        taken = centre.take(session, new, WEDNESDAY_MORNING)
        assert taken.proposed_service == "ucr-west"
        return centre.act(session, taken.id, Action.ACCEPT, GP, WEDNESDAY_MORNING)


def notifications(sessions: sessionmaker[Session]) -> dict[str, dict[str, Any]]:
    """Each notification by its subscription's endpoint."""
    n, s = tables.notification, tables.subscription
    with sessions() as session:
        rows = session.execute(
            select(n, s.c.endpoint).join(s, s.c.id == n.c.subscription_id)
        ).mappings()
        return {r["endpoint"]: dict(r) for r in rows}


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_a_2xx_answer_delivers_the_task(
    sessions: sessionmaker[Session], centre: Centre, receiver: Receiver
) -> None:
    add_subscription(sessions, "ucr-west", receiver.url, "Authorization: Bearer s3cret", "t")
    add_subscription(sessions, "ucr-central", receiver.url + "/other", None, "t")  # not routed
    referral = routed_referral(sessions, centre)
    assert len(notifications(sessions)) == 1  # only the team it was routed to

    now = WEDNESDAY_MORNING + timedelta(seconds=1)
    report = deliver_due(sessions, now, service_name=centre.service_name)

    assert report == DeliveryReport(delivered=1)
    [got] = receiver.received
    assert got["path"] == "/fhir/notify"
    assert got["headers"]["Content-Type"] == "application/fhir+json"
    assert got["headers"]["Authorization"] == "Bearer s3cret"
    task = got["body"]
    assert task["resourceType"] == "Task"
    assert task["id"] == referral.id
    assert task["status"] == "accepted"
    row = notifications(sessions)[receiver.url]
    assert row["status"] == "delivered"
    assert row["attempts"] == 1
    assert aware(row["delivered_at"]) == now
    # Delivered once: the next round has nothing to send.
    assert deliver_due(sessions, now + timedelta(hours=1)) == DeliveryReport()
    assert len(receiver.received) == 1


def test_failures_are_retried_with_growing_waits_then_dead_then_retried(
    sessions: sessionmaker[Session], centre: Centre, receiver: Receiver
) -> None:
    receiver.status = 500
    add_subscription(sessions, "ucr-west", receiver.url, None, "t")
    routed_referral(sessions, centre)
    base = timedelta(seconds=30)
    now = WEDNESDAY_MORNING
    waits = []
    for attempt in range(1, 4):
        report = deliver_due(sessions, now, max_attempts=4, base_delay=base)
        assert report == DeliveryReport(retried=1)
        row = notifications(sessions)[receiver.url]
        assert row["status"] == "pending"
        assert row["attempts"] == attempt
        assert row["last_error"] == "HTTP 500"
        due = aware(row["next_attempt_at"])
        waits.append(due - now)
        # Not due yet: nothing is sent before its time.
        assert deliver_due(sessions, due - timedelta(seconds=1), max_attempts=4) == (
            DeliveryReport()
        )
        now = due
    assert waits == [base, base * 2, base * 4]
    assert deliver_due(sessions, now, max_attempts=4, base_delay=base) == DeliveryReport(dead=1)
    assert len(receiver.received) == 4
    with sessions() as session:
        [letter] = dead_letters(session)
    assert letter.attempts == 4
    assert letter.last_error == "HTTP 500"
    assert letter.service_id == "ucr-west"
    # Dead is dead: later rounds leave it alone ...
    assert deliver_due(sessions, now + timedelta(days=1), max_attempts=4) == DeliveryReport()
    # ... until a person puts it back, and the partner's system is up again.
    receiver.status = 201
    later = now + timedelta(days=1)
    with sessions.begin() as session:
        retry(session, letter.id, later)
    with sessions() as session:
        assert dead_letters(session) == []
    row = notifications(sessions)[receiver.url]
    assert (row["status"], row["attempts"]) == ("pending", 0)
    assert deliver_due(sessions, later, max_attempts=4) == DeliveryReport(delivered=1)
    with pytest.raises(ValueError), sessions.begin() as session:
        retry(session, letter.id, later)  # delivered already
    with pytest.raises(KeyError), sessions.begin() as session:
        retry(session, 999_999, later)


def test_one_endpoint_down_does_not_block_another(
    sessions: sessionmaker[Session], centre: Centre, receiver: Receiver
) -> None:
    # Nothing listens on a port just closed: the connection is refused.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}/fhir/notify"
    add_subscription(sessions, "ucr-west", down, None, "t")  # first in the outbox
    add_subscription(sessions, "ucr-west", receiver.url, None, "t")
    routed_referral(sessions, centre)

    report = deliver_due(sessions, WEDNESDAY_MORNING)

    assert report == DeliveryReport(delivered=1, retried=1)
    rows = notifications(sessions)
    assert rows[receiver.url]["status"] == "delivered"
    assert rows[down]["status"] == "pending"
    assert rows[down]["last_error"] == "ConnectError"  # the kind of failure, nothing else
    assert len(receiver.received) == 1


def test_the_dispatcher_delivers_in_the_background(
    sessions: sessionmaker[Session], centre: Centre, receiver: Receiver
) -> None:
    add_subscription(sessions, "ucr-west", receiver.url, None, "t")
    routed_referral(sessions, centre)
    dispatcher = Dispatcher(sessions, interval=0.05, clock=lambda: WEDNESDAY_MORNING)
    dispatcher.start()
    try:
        for _ in range(100):
            if notifications(sessions)[receiver.url]["status"] == "delivered":
                break
            threading.Event().wait(0.05)
    finally:
        dispatcher.stop()
    assert notifications(sessions)[receiver.url]["status"] == "delivered"
    assert len(receiver.received) == 1


def test_the_referrals_commands(
    settings: Settings, sessions: sessionmaker[Session], centre: Centre, receiver: Receiver
) -> None:
    env = {
        "JOINEDUP_VAR_DIR": str(settings.var_dir),
        "JOINEDUP_DATABASE_URL": settings.operational_url,
    }
    receiver.status = 503
    add_subscription(sessions, "ucr-west", receiver.url, None, "t")
    referral = routed_referral(sessions, centre)
    with sessions.begin() as session:  # the commands run at the real time: due long ago
        session.execute(
            update(tables.notification).values(next_attempt_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    result = runner.invoke(
        app, ["referrals", "deliver", "--max-attempts", "1", "--format", "json"], env=env
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {"delivered": 0, "retried": 0, "dead": 1}
    result = runner.invoke(app, ["referrals", "dead-letters", "--format", "json"], env=env)
    [letter] = orjson.loads(result.stdout)
    assert (letter["referral_id"], letter["last_error"]) == (referral.id, "HTTP 503")
    assert runner.invoke(app, ["referrals", "retry", str(letter["id"])], env=env).exit_code == 0
    receiver.status = 200
    result = runner.invoke(app, ["referrals", "deliver", "--format", "json"], env=env)
    assert orjson.loads(result.stdout)["delivered"] == 1
    assert receiver.received[-1]["body"]["owner"]["display"] != "ucr-west"  # named
    assert runner.invoke(app, ["referrals", "retry", "999999"], env=env).exit_code == 1

    # A team reports red: the router rules it out, and says why.
    result = runner.invoke(
        app, ["referrals", "status", "ucr-west", "red", "--note", "short-staffed"], env=env
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["referrals", "status", "nope", "red"], env=env).exit_code == 1
    assert runner.invoke(app, ["referrals", "status", "ucr-west", "blue"], env=env).exit_code == 1
    route = ["referrals", "route", "--need", "fall", "--urgency", "two_hour", "--source", "gp"]
    result = runner.invoke(
        app, [*route, "--age", "78", "--area", "west", "--top", "100", "--format", "json"], env=env
    )
    assert result.exit_code == 0, result.output
    ranking = {c["service"]: c for c in orjson.loads(result.stdout)}
    assert not ranking["ucr-west"]["eligible"]
    assert any("red" in r for r in ranking["ucr-west"]["against"])
    result = runner.invoke(app, [*route, "--age", "78", "--area", "west"], env=env)
    assert result.exit_code == 0 and "Services for" in result.stdout
    result = runner.invoke(app, [*route, "--format", "json"], env=env)
    assert len(orjson.loads(result.stdout)) == 10  # the top 10 by default
    assert runner.invoke(app, [*route, "--area", "nowhere"], env=env).exit_code == 1
