"""The audit trail, break-glass and objections in the store (SQLite, then PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import typer
from fhir.resources.R4B.auditevent import AuditEvent
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from joinedup.access import audit
from joinedup.access.audit import AuditEntry
from joinedup.access.decide import decide_person
from joinedup.access.model import AccessDenied, Decision, Relationship, User
from joinedup.access.policy import load_policy
from joinedup.access.store import (
    active_break_glass,
    break_glass_for_review,
    has_objection,
    mark_reviewed,
    open_break_glass,
    record_objection,
    withdraw_objection,
)
from joinedup.access.tables import audit_event
from joinedup.cli import audit as audit_cli
from joinedup.settings import DEFAULT_POLICY, Settings

POLICY = load_policy(DEFAULT_POLICY)
T0 = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
GP = User("demo-gp", "Dr Morwenna Penrose", "gp", "L99021")
PARAMEDIC = User("demo-paramedic", "Piran Jory", "paramedic", "RYF", ("ambulance-999",))


def _entry(
    i: int, *, user: User = GP, outcome: str = "success", action: str = "read"
) -> AuditEntry:
    return AuditEntry(
        at=T0 + timedelta(minutes=i),
        user_subject=user.subject,
        user_name=user.name,
        role=user.role,
        organisation=user.organisation,
        action=action,
        what=f"Patient/p{i}" if action == "read" else f"Observation?patient=p{i}&code=8867-4",
        person_key=f"p{i}",
        reason="registered at your practice"
        if outcome == "success"
        else "no legitimate relationship",
        outcome=outcome,
    )


def _append(sessions: sessionmaker[Session], count: int) -> None:
    with sessions() as session, session.begin():
        for i in range(1, count + 1):
            assert audit.record(session, _entry(i, action="read" if i % 2 else "search")) == i


def _verify(sessions: sessionmaker[Session]) -> audit.VerifyResult:
    with sessions() as session:
        return audit.verify(session)


def test_an_intact_chain_verifies(sessions: sessionmaker[Session]) -> None:
    assert _verify(sessions).ok and _verify(sessions).entries == 0
    _append(sessions, 6)
    result = _verify(sessions)
    assert (result.ok, result.entries, result.first_bad_seq) == (True, 6, None)
    with sessions() as session:
        newest = audit.entries(session, limit=2)
    assert [e.seq for e in newest] == [6, 5]
    assert newest[0].at == T0 + timedelta(minutes=6)  # to the microsecond, in UTC
    assert newest[0].hash == result.head_hash


def test_entries_appended_together_continue_one_chain(sessions: sessionmaker[Session]) -> None:
    """A list shown at once (a ward board) writes its entries in one append."""
    _append(sessions, 2)
    with sessions.begin() as session:
        assert audit.record_many(session, [_entry(i) for i in range(3, 8)]) == [3, 4, 5, 6, 7]
        assert audit.record_many(session, []) == []
        assert audit.record(session, _entry(8)) == 8
    result = _verify(sessions)
    assert (result.ok, result.entries) == (True, 8)


@pytest.mark.parametrize(
    "change",
    [
        {"reason": "nothing to see here"},
        {"user_subject": "someone-else"},
        {"outcome": "refused"},
        {"break_glass": True},
        {"at": T0 + timedelta(minutes=3, microseconds=1)},
    ],
    ids=["reason", "user", "outcome", "break-glass", "time"],
)
def test_an_edited_entry_is_named(
    sessions: sessionmaker[Session], change: dict[str, object]
) -> None:
    _append(sessions, 6)
    with sessions() as session, session.begin():
        session.execute(update(audit_event).where(audit_event.c.seq == 3).values(**change))
    result = _verify(sessions)
    assert (result.ok, result.first_bad_seq, result.problem, result.entries) == (
        False,
        3,
        "edited",
        2,
    )


def test_a_deleted_entry_is_named(sessions: sessionmaker[Session]) -> None:
    _append(sessions, 6)
    with sessions() as session, session.begin():
        session.execute(delete(audit_event).where(audit_event.c.seq == 4))
    result = _verify(sessions)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 4, "deleted")


def test_entries_deleted_from_the_end_are_named(sessions: sessionmaker[Session]) -> None:
    _append(sessions, 6)
    with sessions() as session, session.begin():
        session.execute(delete(audit_event).where(audit_event.c.seq >= 5))
    result = _verify(sessions)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 5, "deleted")


def test_a_forged_entry_is_detected(sessions: sessionmaker[Session]) -> None:
    """Even a forgery that knows the hashing: correct seq, link and hash, added by SQL."""
    _append(sessions, 4)
    with sessions() as session, session.begin():
        last = session.execute(select(audit_event).where(audit_event.c.seq == 4)).mappings().one()
        fields = {
            **_entry(5).__dict__,
            "seq": 5,
            "prev_hash": last["hash"],
        }
        fields["hash"] = audit.entry_hash(fields)
        session.execute(insert(audit_event).values(**fields))
    result = _verify(sessions)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 5, "inserted")


def test_an_entry_slipped_into_the_middle_is_detected(sessions: sessionmaker[Session]) -> None:
    _append(sessions, 5)
    with sessions() as session, session.begin():
        session.execute(delete(audit_event).where(audit_event.c.seq == 3))
        fields = {**_entry(3, user=PARAMEDIC).__dict__, "seq": 3, "prev_hash": "f" * 64}
        fields["hash"] = audit.entry_hash(fields)
        session.execute(insert(audit_event).values(**fields))
    result = _verify(sessions)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 3, "inserted")


def test_appends_after_a_verify_continue_the_chain(sessions: sessionmaker[Session]) -> None:
    _append(sessions, 2)
    with sessions() as session, session.begin():
        assert audit.record(session, _entry(3)) == 3
    # A rolled-back append leaves no trace and no gap.
    with sessions() as session:
        session.begin()
        audit.record(session, _entry(4))
        session.rollback()
    with sessions() as session, session.begin():
        assert audit.record(session, _entry(4)) == 4
    assert _verify(sessions).ok


def test_concurrent_appends_keep_one_chain(sessions: sessionmaker[Session]) -> None:
    """Writers in parallel threads: the head lock serialises them, no fork and no gap."""

    def write(worker: int) -> None:
        for i in range(10):
            with sessions() as session, session.begin():
                audit.record(session, _entry(worker * 100 + i))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    result = _verify(sessions)
    assert (result.ok, result.entries) == (True, 40)


def test_audit_events_are_valid_fhir_r4(sessions: sessionmaker[Session]) -> None:
    glass = Decision(True, "break-glass access (emergency, reviewed)", "break_glass", True)
    with sessions() as session, session.begin():
        audit.record(session, _entry(1))
        audit.record(session, _entry(2, action="search"))
        audit.record(
            session,
            audit.entry_for(
                PARAMEDIC, "read", "Patient/p3", person_key="p3", decision=glass, at=T0
            ),
        )
        audit.record(session, _entry(4, outcome="refused"))
        audit.record(session, _entry(5, action="write", outcome="error"))
        audit.record(
            session,
            audit.entry_for(GP, "login", "session", person_key=None, at=T0),
        )
    with sessions() as session:
        events = [audit.as_fhir(e) for e in reversed(audit.entries(session))]
    for event in events:
        AuditEvent.model_validate(event)  # raises if not valid R4 (R4B AuditEvent is R4's)
    read, search, btg, refused, error, login = events
    assert (read["action"], read["subtype"][0]["code"], read["outcome"]) == ("R", "read", "0")
    assert (search["action"], search["subtype"][0]["code"]) == ("E", "search-type")
    assert "query" in search["entity"][1]
    assert btg["purposeOfEvent"][0]["coding"][0]["code"] == "BTG"
    assert btg["agent"][0]["who"]["identifier"]["value"] == "demo-paramedic"
    assert btg["agent"][1]["who"]["identifier"]["value"] == "RYF"
    assert (refused["outcome"], refused["outcomeDesc"]) == ("4", "no legitimate relationship")
    assert (error["action"], error["outcome"]) == ("C", "8")
    assert login["type"]["code"] == "110114" and "entity" in login
    assert read["entity"][0]["what"]["identifier"]["value"] == "p1"
    assert read["source"]["observer"]["display"] == "JoinedUp"


def test_unusual_access_is_flagged(sessions: sessionmaker[Session]) -> None:
    rule = POLICY.unusual_access
    with sessions() as session, session.begin():
        for i in range(rule.refused_per_day + 1):
            audit.record(session, _entry(i, user=PARAMEDIC, outcome="refused"))
        for i in range(rule.distinct_persons_per_day + 1):
            audit.record(session, _entry(i))
        audit.record(session, _entry(0, user=User("quiet", "Quiet User", "gp", "L99001")))
    with sessions() as session:
        flagged = audit.unusual_access(session, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [(u.user_subject, u.rule, u.count) for u in flagged] == [
        ("demo-gp", "distinct_persons_per_day", rule.distinct_persons_per_day + 1),
        ("demo-paramedic", "refused_per_day", rule.refused_per_day + 1),
    ]


# --- break-glass and objections --------------------------------------------------------


def test_break_glass_opens_for_the_policy_time_is_audited_and_reviewed(
    sessions: sessionmaker[Session],
) -> None:
    reason = "Unconscious at scene, no history available"
    with sessions() as session, session.begin():
        opened = open_break_glass(session, PARAMEDIC, "p42", reason, T0, POLICY)
    assert opened.expires_at == T0 + timedelta(hours=4)
    with sessions() as session:
        glass = active_break_glass(session, PARAMEDIC.subject, "p42", T0 + timedelta(hours=1))
        assert glass is not None and glass.id == opened.id and glass.reason == reason
        assert (
            active_break_glass(session, PARAMEDIC.subject, "p42", T0 + timedelta(hours=4)) is None
        )
        assert active_break_glass(session, PARAMEDIC.subject, "p43", T0) is None
        assert active_break_glass(session, GP.subject, "p42", T0) is None
        decision = decide_person(
            POLICY, PARAMEDIC, "record.read", Relationship(), break_glass=glass, now=T0
        )
        assert decision.break_glass
        logged = audit.entries(session)
    assert [(e.action, e.person_key, e.reason, e.break_glass) for e in logged] == [
        ("break_glass", "p42", reason, True)
    ]
    with sessions() as session:
        assert [g.id for g in break_glass_for_review(session)] == [opened.id]
    with sessions() as session, session.begin():
        reviewed = mark_reviewed(session, opened.id, "demo-privacy-officer", "appropriate", T0)
    assert reviewed.reviewed_by == "demo-privacy-officer"
    with sessions() as session:
        assert break_glass_for_review(session) == []
        with pytest.raises(LookupError):
            mark_reviewed(session, 999, "x", "y", T0)


@pytest.mark.parametrize(
    ("user", "reason", "code"),
    [
        (PARAMEDIC, "because", "reason-too-short"),
        (PARAMEDIC, "          short     ", "reason-too-short"),
        (
            User("demo-analyst", "Elowen Tonkin", "analyst", "QT6"),
            "I need to see this record",
            "forbidden",
        ),
        (
            User("sw", "A Social Worker", "social_worker", "ZLA01"),
            "Safeguarding visit tonight",
            "forbidden",
        ),
    ],
    ids=["short", "padded", "analyst", "social-worker"],
)
def test_break_glass_is_refused(
    sessions: sessionmaker[Session], user: User, reason: str, code: str
) -> None:
    with sessions() as session, session.begin():
        with pytest.raises(AccessDenied) as caught:
            open_break_glass(session, user, "p42", reason, T0, POLICY)
        assert (caught.value.status, caught.value.code) == (403, code)
    with sessions() as session:
        assert break_glass_for_review(session) == [] and audit.entries(session) == []


def test_objections_are_recorded_and_withdrawn(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        assert not has_objection(session, "p7")
        first = record_objection(session, "p7", "demo-gp", T0)
        assert record_objection(session, "p7", "demo-gp", T0) == first  # already objects
    with sessions() as session, session.begin():
        assert has_objection(session, "p7") and not has_objection(session, "p8")
        assert withdraw_objection(session, "p7", "demo-gp", T0 + timedelta(days=1))
        assert not withdraw_objection(session, "p7", "demo-gp", T0 + timedelta(days=1))
    with sessions() as session:
        assert not has_objection(session, "p7")


# --- the command line --------------------------------------------------------------------


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(audit_cli.app, name="audit")
    return root


def _env(settings: Settings) -> dict[str, str]:
    return {
        "JOINEDUP_DATABASE_URL": settings.operational_url,
        "JOINEDUP_VAR_DIR": str(settings.var_dir),
    }


def test_cli_verify_and_list(settings: Settings, sessions: sessionmaker[Session]) -> None:
    runner = CliRunner()
    _append(sessions, 5)
    result = runner.invoke(_cli(), ["audit", "verify"], env=_env(settings))
    assert result.exit_code == 0, result.output
    assert "audit chain verified: 5 entries" in result.stdout
    result = runner.invoke(_cli(), ["audit", "verify", "--format", "json"], env=_env(settings))
    assert result.exit_code == 0 and '"ok": true' in result.stdout
    result = runner.invoke(
        _cli(), ["audit", "list", "--limit", "2", "--format", "json"], env=_env(settings)
    )
    assert result.exit_code == 0 and '"seq": 5' in result.stdout and '"seq": 3' not in result.stdout
    result = runner.invoke(_cli(), ["audit", "list", "--format", "table"], env=_env(settings))
    assert result.exit_code == 0 and "Audit trail" in result.stdout

    with sessions() as session, session.begin():
        session.execute(update(audit_event).where(audit_event.c.seq == 2).values(reason="edited"))
    result = runner.invoke(_cli(), ["audit", "verify"], env=_env(settings))
    assert result.exit_code == 1
    assert "audit chain broken at entry 2: edited" in result.stderr
    result = runner.invoke(_cli(), ["audit", "verify", "--format", "json"], env=_env(settings))
    assert result.exit_code == 1 and '"first_bad_seq": 2' in result.stdout

    with sessions() as session, session.begin():
        session.execute(delete(audit_event).where(audit_event.c.seq == 2))
    result = runner.invoke(_cli(), ["audit", "verify"], env=_env(settings))
    assert result.exit_code == 1 and "entry 2: deleted" in result.stderr
