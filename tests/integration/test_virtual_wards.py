"""Virtual wards in the store: admission and discharge, readings scored with NEWS2 (the
set within the window, no invented total), escalation by band and ward threshold, raising
the level, acknowledgement, re-escalation, duplicates stored once, implausible readings
refused with nothing written, and readings missed against the schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from joinedup.directory.loader import load_directory
from joinedup.records.query import person_resources
from joinedup.settings import DEFAULT_DIRECTORY, DEFAULT_VIRTUAL_WARDS
from joinedup.virtual_wards import tables
from joinedup.virtual_wards.config import load_wards
from joinedup.virtual_wards.store import (
    Reading,
    VirtualWards,
    WardError,
    admission_for_link,
    escalations,
    get_admission,
    overdue_readings,
)
from tests.support.records import load_people

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FRAILTY = "virtual-ward-frailty-central"
OXIMETRY = "virtual-ward-respiratory"


@pytest.fixture
def wards() -> VirtualWards:
    return VirtualWards(load_wards(DEFAULT_VIRTUAL_WARDS, load_directory(DEFAULT_DIRECTORY)))


@pytest.fixture
def ann(sessions: sessionmaker[Session]) -> str:
    return load_people(sessions, practice="L99021", other_practice="L99001").ann


def full_set(at: datetime, key: str, **values: float | str) -> list[Reading]:
    """A whole set of NEWS2 readings (all scoring 0 unless given)."""
    normal: dict[str, float | str] = {
        "respiratory_rate": 16,
        "spo2": 97,
        "air_or_oxygen": 0,
        "systolic": 130,
        "pulse": 72,
        "consciousness": "A",
        "temperature": 36.8,
    } | values
    return [
        Reading(p, at, f"{key}/{p}", code=v)
        if isinstance(v, str)
        else Reading(p, at, f"{key}/{p}", value=v)
        for p, v in normal.items()
    ]


def test_a_frail_patient_deteriorates_and_the_team_is_escalated_to(
    sessions: sessionmaker[Session], wards: VirtualWards, ann: str
) -> None:
    with sessions.begin() as s:
        admission, token = wards.admit(
            s,
            FRAILTY,
            ann,
            kind="step-up",
            care_plan="Chest infection; antibiotics at home.",
            by="nurse",
            now=T0,
        )
    with sessions.begin() as s:
        assert admission_for_link(s, token) == admission
        (stay,) = person_resources(s, ann, ["EpisodeOfCare"])  # in Ann's shared care record
        assert (stay.partner, stay.content["status"]) == ("RJ8", "active")
        calm = wards.take_readings(
            s, admission, full_set(T0, "r1"), source="patient", by="ann", now=T0
        )
    assert calm.score is not None and calm.score.total == 0 and calm.escalation is None
    # Worse: resp 22 (2), pulse 115 (2), temperature 38.5 (1): total 5, medium.
    t1 = T0 + timedelta(hours=12)
    with sessions.begin() as s:
        worse = wards.take_readings(
            s,
            admission,
            full_set(t1, "r2", respiratory_rate=22, pulse=115, temperature=38.5),
            source="patient",
            by="ann",
            now=t1,
        )
    assert worse.score is not None and (worse.score.total, worse.score.band) == (5, "medium")
    first = worse.escalation
    with sessions() as s:  # each score is an Observation in Ann's record, with its parameters
        news = [
            r.content
            for r in person_resources(s, ann, ["Observation"])
            if r.content["code"]["coding"][0]["code"] == "1104051000000101"
        ]
    assert sorted(o["valueInteger"] for o in news) == [0, 5]
    latest = max(news, key=lambda o: o["effectiveDateTime"])
    assert {c["code"]["coding"][0]["code"]: c["valueInteger"] for c in latest["component"]} == {
        "respiratory_rate": 2,
        "spo2": 0,
        "air_or_oxygen": 0,
        "systolic": 0,
        "pulse": 2,
        "consciousness": 0,
        "temperature": 1,
    }
    assert first is not None and first.level == "urgent-response" and first.status == "open"
    assert first.due_at == t1 + timedelta(minutes=30)
    assert "NEWS2 5 (medium)" in first.reasons[0]
    # The same upload again (a device re-sending): stored once, nothing new.
    with sessions.begin() as s:
        again = wards.take_readings(
            s,
            admission,
            full_set(t1, "r2", respiratory_rate=22, pulse=115, temperature=38.5),
            source="patient",
            by="ann",
            now=t1,
        )
    assert (again.stored, again.duplicates, again.escalation) == (0, 7, None)
    with sessions() as s:
        assert s.execute(select(func.count()).select_from(tables.observation)).scalar() == 14
    # Not acknowledged within 30 minutes: re-escalated, due again 30 minutes later.
    late = t1 + timedelta(minutes=31)
    with sessions.begin() as s:
        assert len(wards.sweep(s, late)) == 1
    with sessions() as s:
        (current,) = escalations(s, admission_id=admission.id, active=True)
    assert current.re_escalations == 1 and current.due_at == late + timedelta(minutes=30)
    with sessions.begin() as s:
        acked = wards.acknowledge(
            s, current.id, by="Dr Kitto", now=late, expected_version=current.version
        )
    assert acked.status == "acknowledged"
    with sessions.begin() as s:
        assert wards.sweep(s, late + timedelta(hours=2)) == []  # acknowledged: no more
    # Worse still: SpO2 91 on air (3) too, total 8: emergency; the escalation is raised and re-opened.
    t2 = t1 + timedelta(hours=1)
    with sessions.begin() as s:
        worst = wards.take_readings(
            s,
            admission,
            full_set(t2, "r3", respiratory_rate=22, pulse=115, temperature=38.5, spo2=91),
            source="staff",
            by="nurse",
            now=t2,
        )
    assert worst.escalation is not None and worst.escalation.id == current.id
    assert (worst.escalation.level, worst.escalation.status) == ("emergency", "open")
    with pytest.raises(WardError) as stale, sessions.begin() as s:
        wards.act(
            s,
            current.id,
            action="Admitted via 999",
            by="Dr Kitto",
            now=t2,
            expected_version=acked.version,
        )
    assert stale.value.status == 412
    with sessions.begin() as s:
        done = wards.act(
            s,
            current.id,
            action="Seen at home; 999 called, admitted to RCHT.",
            by="Dr Kitto",
            now=t2,
            expected_version=worst.escalation.version,
        )
        discharged = wards.discharge(
            s, admission.id, outcome="admitted", note="", by="Dr Kitto", now=t2
        )
    assert done.status == "closed" and done.action is not None
    assert discharged.outcome == "admitted" and not discharged.open
    with sessions() as s:
        assert admission_for_link(s, token) is None  # the personal link stops working
        (stay,) = person_resources(s, ann, ["EpisodeOfCare"])
        assert stay.content["status"] == "finished" and stay.content["period"]["end"]
        events = [
            e
            for e in s.execute(
                select(tables.escalation_event.c.event).order_by(tables.escalation_event.c.id)
            ).scalars()
        ]
    # Acting on the re-opened escalation acknowledges it first.
    assert events == [
        "raised",
        "re-escalated",
        "acknowledged",
        "raised-level",
        "acknowledged",
        "closed",
    ]


def test_an_incomplete_set_has_no_total_but_a_ward_threshold_still_escalates(
    sessions: sessionmaker[Session], wards: VirtualWards, ann: str
) -> None:
    with sessions.begin() as s:
        admission, _ = wards.admit(
            s,
            OXIMETRY,
            ann,
            kind="step-down",
            care_plan="COVID-19; oximetry at home.",
            by="n",
            now=T0,
        )
        taken = wards.take_readings(
            s,
            admission,
            [Reading("spo2", T0, "o1/spo2", value=92), Reading("pulse", T0, "o1/pulse", value=88)],
            source="device",
            by="oximeter",
            now=T0,
        )
    assert taken.score is not None and taken.score.total is None
    with sessions() as s:  # in the record without a total, saying what is missing
        (news,) = [
            r.content
            for r in person_resources(s, ann, ["Observation"])
            if r.content["code"]["coding"][0]["code"] == "1104051000000101"
        ]
    assert "valueInteger" not in news and news["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert set(taken.score.missing) == {
        "respiratory_rate",
        "air_or_oxygen",
        "systolic",
        "consciousness",
        "temperature",
    }
    # SpO2 92 scores 2 on scale 1 (no NEWS2 trigger alone); the ward's SpO2 <= 92 is an emergency.
    assert taken.escalation is not None and taken.escalation.level == "emergency"
    assert taken.escalation.reasons[0] == "ward threshold: spo2 ≤ 92"
    assert "999" in taken.escalation.response


def test_readings_taken_apart_are_not_scored_together(
    sessions: sessionmaker[Session], wards: VirtualWards, ann: str
) -> None:
    with sessions.begin() as s:
        admission, _ = wards.admit(
            s, FRAILTY, ann, kind="step-up", care_plan="Falls and UTI, at home.", by="n", now=T0
        )
        wards.take_readings(s, admission, full_set(T0, "a"), source="staff", by="n", now=T0)
        later = T0 + timedelta(hours=3)
        taken = wards.take_readings(
            s,
            admission,
            [Reading("pulse", later, "b/pulse", value=95)],
            source="device",
            by="d",
            now=later,
        )
    assert (
        taken.score is not None
        and taken.score.total is None
        and "respiratory_rate" in taken.score.missing
    )


def test_implausible_readings_are_refused_and_nothing_is_written(
    sessions: sessionmaker[Session], wards: VirtualWards, ann: str
) -> None:
    with sessions.begin() as s:
        admission, _ = wards.admit(
            s, FRAILTY, ann, kind="step-up", care_plan="Cellulitis, at home.", by="n", now=T0
        )
    bad = full_set(T0, "bad", spo2=140, pulse=-5, temperature=95)
    with pytest.raises(WardError) as refused, sessions.begin() as s:
        wards.take_readings(s, admission, bad, source="patient", by="p", now=T0)
    assert refused.value.status == 422
    where = [i.location for i in refused.value.issues]
    assert where == ["reading[1].spo2", "reading[4].pulse", "reading[6].temperature"]
    assert "°C expected" in str(refused.value)
    with pytest.raises(WardError), sessions.begin() as s:
        wards.take_readings(
            s,
            admission,
            [Reading("consciousness", T0, "c", code="X")],
            source="staff",
            by="n",
            now=T0,
        )
    with sessions() as s:
        assert s.execute(select(func.count()).select_from(tables.observation)).scalar() == 0
        assert s.execute(select(func.count()).select_from(tables.score)).scalar() == 0


def test_admission_rules_and_missed_readings(
    sessions: sessionmaker[Session], wards: VirtualWards, ann: str
) -> None:
    with sessions.begin() as s:
        admission, _ = wards.admit(
            s, FRAILTY, ann, kind="step-up", care_plan="Frailty, delirium.", by="n", now=T0
        )
    with pytest.raises(WardError) as twice, sessions.begin() as s:
        wards.admit(s, OXIMETRY, ann, kind="step-up", care_plan="Another ward.", by="n", now=T0)
    assert twice.value.status == 409
    with pytest.raises(WardError) as bad, sessions.begin() as s:
        wards.admit(s, FRAILTY, "nobody", kind="sideways", care_plan="", by="n", now=T0)
    assert bad.value.status == 422 and {i.location for i in bad.value.issues} == {
        "kind",
        "care_plan",
    }
    with sessions() as s:
        current = get_admission(s, admission.id)
    # Two sets a day (every 12 hours), an hour's grace: on time at 13 h, one missed at 13 h 1 min.
    assert overdue_readings(current, None, T0 + timedelta(hours=13)) == 0
    assert overdue_readings(current, None, T0 + timedelta(hours=13, minutes=1)) == 1
    assert (
        overdue_readings(current, T0 + timedelta(hours=24), T0 + timedelta(hours=49, minutes=5))
        == 2
    )


def test_the_sweeper_re_escalates_what_is_overdue(
    sessions: sessionmaker[Session], wards: VirtualWards, ann: str
) -> None:
    """The app's background round (and ``joinedup virtual-wards sweep``) over the store."""
    from joinedup.directory.store import save_directory
    from joinedup.virtual_wards.sweep import Sweeper, sweep_once

    with sessions.begin() as s:
        assert sweep_once(sessions, DEFAULT_VIRTUAL_WARDS, T0) == 0  # no directory yet: nothing
        save_directory(s, load_directory(DEFAULT_DIRECTORY))
        admission, _ = wards.admit(
            s, FRAILTY, ann, kind="step-up", care_plan="Pneumonia at home.", by="n", now=T0
        )
        wards.take_readings(
            s, admission, full_set(T0, "s", respiratory_rate=26), source="staff", by="n", now=T0
        )  # resp 26 scores 3: urgent review, due in an hour
    sweeper = Sweeper(sessions, DEFAULT_VIRTUAL_WARDS, clock=lambda: T0 + timedelta(minutes=61))
    assert sweeper.round() == 1
    with sessions() as s:
        (e,) = escalations(s, admission_id=admission.id)
    assert (e.level, e.re_escalations) == ("urgent-review", 1)


def test_the_store_holds_its_rules_under_concurrency(
    sessions: sessionmaker[Session], wards: VirtualWards, ann: str
) -> None:
    """Checks a reader could race are also the store's: one open stay per person (a unique
    index), readings refused for a stay discharged since it was read, unknown people 404."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    with sessions.begin() as s:
        admission, _ = wards.admit(
            s, FRAILTY, ann, kind="step-up", care_plan="UTI and falls at home.", by="n", now=T0
        )
    row = {
        c.name: getattr(get_admission_row(sessions, admission.id), c.name)
        for c in tables.admission.columns
    } | {"id": "vwa-second", "link_hash": None}
    with pytest.raises(IntegrityError), sessions.begin() as s:
        s.execute(insert(tables.admission), row)  # a second open stay, as a racing admit would
    with sessions.begin() as s:
        wards.discharge(s, admission.id, outcome="recovered-at-home", note="", by="n", now=T0)
    with pytest.raises(WardError) as discharged, sessions.begin() as s:
        wards.take_readings(s, admission, full_set(T0, "late"), source="device", by="d", now=T0)
    assert discharged.value.status == 409  # the object said open; the store says not
    with pytest.raises(WardError) as nobody, sessions.begin() as s:
        wards.admit(
            s, FRAILTY, "p-nobody", kind="step-up", care_plan="Not a person.", by="n", now=T0
        )
    assert nobody.value.status == 404
    with sessions.begin() as s:  # discharged: admitted again is fine
        wards.admit(
            s, FRAILTY, ann, kind="step-down", care_plan="Back again, home early.", by="n", now=T0
        )


def get_admission_row(sessions: sessionmaker[Session], admission_id: str) -> Any:
    with sessions() as s:
        return s.execute(
            select(tables.admission).where(tables.admission.c.id == admission_id)
        ).one()
