"""A synthetic flow of people through the virtual wards, for the demo and benchmarks.

Each day, each ward admits a few people (step-up from the community about three in five,
step-down from hospital the rest), enough to keep it at about 65-80% of its virtual beds:
frailty wards for about a week (4-11 days), oximetry at home for about a fortnight
(10-16 days). Everyone on a ward sends the ward's readings on its schedule (a set at
admission, then ``readings_per_day`` sets spread over the day, a little early or late,
now and then missed), from a device, the patient's personal link or the staff: mostly
normal, with the noise of real readings. About one stay in seven deteriorates: over one to
three days breathing quickens, SpO2 falls, the pulse and the temperature rise (and an
older person may become newly confused), so NEWS2 climbs through its bands and the real
escalation logic raises, and raises the level of, escalations. The synthetic team
acknowledges most within the response time (some late, so the schedule re-escalates them:
:meth:`~joinedup.virtual_wards.store.VirtualWards.sweep` runs before any step at which an
escalation is overdue) and says what it did; about half the people who deteriorate are admitted to hospital, the others
recover at home. Everything is done through :class:`~joinedup.virtual_wards.store.VirtualWards`,
step by step in time order (an admission, a set of readings, an acknowledgement, an
action, a discharge), each day's steps in one transaction: on PostgreSQL that takes about
three fifths of the time of a transaction a step, on SQLite four fifths, and the store is
written just the same. The newest stays are still open at ``until``, so the boards have
patients; and on each ward one person who was well starts to deteriorate the day before,
so every board has someone getting worse now, with a set of readings just sent and an
escalation the team is still responding to.

**Who.** People come from the person index (current links to source records that give a
date of birth; nobody with a recorded death, nobody already on a virtual ward): of the
ward's ages (the directory's service: 65 or over for the frailty wards, 16 or over for
the respiratory ward; older people more often), living in the ward's areas by their
postcode's district (the directory's places). A person with no postcode on record may go
to any ward of their age; one whose postcode is outside the ICS goes to none. Without a
directory in the store, nobody's area is known and any adult of the ward's ages may be
admitted.

The wards are not empty when the flow starts: a first cohort, about the wards' usual
occupancy, was admitted over the stay length before the first day (their admissions are
dated then; their readings start on the first day). SpO2 is always on scale 1.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from joinedup.directory.store import read_directory
from joinedup.identity import tables as identity_tables
from joinedup.virtual_wards import tables
from joinedup.virtual_wards.config import Ward
from joinedup.virtual_wards.news2 import PLAUSIBLE_RANGES
from joinedup.virtual_wards.store import (
    Admission,
    Reading,
    VirtualWards,
    WardError,
    get_escalation,
)

#: Readings and visits keep local hours.
LOCAL: Final = ZoneInfo("Europe/London")
_T = TypeVar("_T")


@dataclass(frozen=True)
class WardsFlowReport:
    """What the synthetic flow made."""

    admitted: int  # stays begun (the first cohort's too)
    discharged: int  # of those, ended (by any outcome)
    still_on_ward: int  # of those, open at ``until``
    readings: int  # readings stored (one a parameter)
    escalations: int  # escalations raised (not counting raised levels)
    re_escalations: int  # re-escalations by the schedule (unacknowledged in time)
    deteriorated: int  # stays that began to deteriorate by ``until``


@dataclass(frozen=True)
class _Pathway:
    """How one kind of ward's stays go."""

    stay_days: tuple[float, float, float]  # low, high, mode (a triangular distribution)
    care_plans: dict[str, tuple[str, ...]]  # by kind
    sources: tuple[tuple[str, int], ...]  # how the stay's readings mostly come
    outcomes: tuple[tuple[tuple[str, str], int], ...]  # ((outcome, note), weight)
    actions: dict[str, tuple[str, ...]]  # by escalation level, when the person stays home
    hospital: tuple[str, ...]  # the action when a deteriorating person is admitted


_FRAILTY: Final = _Pathway(
    stay_days=(4, 11, 7),
    care_plans={
        "step-up": (
            "Chest infection; oral antibiotics at home, daily review by the ward team.",
            "Urinary infection with new confusion; antibiotics and fluids at home, carer supported.",
            "Fall at home without fracture; reduced mobility, physiotherapy and a falls review.",
            "Cellulitis of the left leg; oral antibiotics, leg elevation, daily nurse visit.",
            "Exacerbation of heart failure; diuretics adjusted, daily weight and readings.",
            "Delirium with dehydration; fluids, medication review, family staying with her.",
        ),
        "step-down": (
            "Home from RCHT after pneumonia; finishing antibiotics, regaining mobility.",
            "Early discharge after a fractured wrist; falls risk, readings twice a day.",
            "Home from RCHT after a urinary sepsis; oral antibiotics to complete, fluids.",
            "Early supported discharge after a fall; reablement starting, pain controlled.",
        ),
    },
    sources=(("device", 40), ("patient", 35), ("staff", 25)),
    outcomes=(
        (("recovered-at-home", "Back to baseline; care handed back to the GP."), 86),
        (("admitted", "Fell at home overnight; admitted to RCHT for a hip X-ray."), 8),
        (("died", "Died peacefully at home, as planned with the family."), 2),
        (("other", "Moved to a community hospital bed for rehabilitation."), 4),
    ),
    actions={
        "urgent-review": (
            "Phoned the family; repeat readings in an hour, no change to the plan.",
            "Reviewed by the ward's nurse by video; fluids encouraged, readings to continue.",
        ),
        "urgent-response": (
            "Visited at home, antibiotics started.",
            "Seen at home by the advanced clinical practitioner; chest infection, antibiotics started.",
            "Home visit: urinary infection, antibiotics and fluids; readings four-hourly today.",
        ),
        "emergency": (
            "Seen urgently at home by the geriatrician; IV antibiotics at home started.",
            "Emergency visit: sepsis screen, IV fluids and antibiotics at home; family agree.",
        ),
    },
    hospital=(
        "999 called, admitted to RCHT.",
        "Seen at home by the ward's consultant; 999 called, admitted to RCHT.",
    ),
)
_OXIMETRY: Final = _Pathway(
    stay_days=(10, 16, 14),
    care_plans={
        "step-up": (
            "COVID-19, day 3 of symptoms; oximetry at home for 14 days.",
            "Community-acquired pneumonia; oral antibiotics, SpO2 and pulse three times a day.",
            "Influenza with breathlessness; oximetry at home, safety-netting given.",
        ),
        "step-down": (
            "Home from RCHT after COVID-19 pneumonia; oximetry for 14 days after discharge.",
            "Early discharge after a chest infection; SpO2 and pulse three times a day.",
        ),
    },
    sources=(("device", 55), ("patient", 45)),
    outcomes=(
        (("recovered-at-home", "Recovered; oximeter collected, back to the GP's care."), 95),
        (("admitted", "Breathless overnight; admitted to RCHT by 999."), 4),
        (("other", "Moved to the COPD team's care at home."), 1),
    ),
    actions={
        "urgent-review": (
            "Phoned: SpO2 rechecked at rest, 95%; re-measure in two hours, plan unchanged.",
            "Reviewed by phone; advice on rest and fluids, readings to continue.",
        ),
        "urgent-response": (
            "Seen at the respiratory hot clinic; chest X-ray, antibiotics started.",
        ),
        "emergency": (
            "Seen at the respiratory hot clinic; steroids started, stays on the ward.",
            "Visited at home with oxygen saturations rechecked: 95% at rest, plan unchanged.",
        ),
    },
    hospital=(
        "999 called, admitted to RCHT.",
        "Reviewed at the hot clinic; admitted to RCHT's acute medical unit.",
    ),
)
#: The kind of stay: step-up (instead of an admission) or step-down (early discharge).
KIND_WEIGHTS: Final = (("step-up", 60), ("step-down", 40))
#: The share of stays that deteriorate, and of those the share admitted to hospital.
DETERIORATE: Final = 0.15
TO_HOSPITAL: Final = 0.5
#: The share of escalations the team acknowledges late (after the response time).
LATE: Final = 0.15
#: The share of sets of readings missed (never while deteriorating).
MISSED: Final = 0.03
#: How long after acknowledging the team says what it did, by level (minutes).
ACT_AFTER: Final = {"urgent-review": (15, 120), "urgent-response": (30, 150), "emergency": (10, 45)}
#: What a living person's readings stay within (inside NEWS2's plausible ranges).
LIMITS: Final = {
    "respiratory_rate": (6, 45),
    "spo2": (75, 100),
    "systolic": (70, 230),
    "pulse": (35, 170),
    "temperature": (34.5, 41.0),
}
_BY: Final = {"device": "synthetic-device-gateway", "patient": "synthetic-patient-link"}


def _pathway(ward: Ward) -> _Pathway:
    return _OXIMETRY if ward.pathway == "oximetry-at-home" else _FRAILTY


@dataclass(frozen=True)
class _Person:
    key: str
    age: int
    area: str | None  # None: no postcode on record
    outside: bool  # a postcode outside the ICS


@dataclass(frozen=True)
class _Course:
    """A deterioration: worse from ``onset`` to ``peak``, then better until ``recovered``
    (``None``: it stays at its worst until the person is admitted to hospital)."""

    onset: datetime
    peak: datetime
    recovered: datetime | None
    severity: float
    confusion: bool
    fever: bool
    low_pressure: bool

    def at(self, t: datetime) -> float:
        if t <= self.onset:
            return 0.0
        if t < self.peak:
            return self.severity * ((t - self.onset) / (self.peak - self.onset))
        if self.recovered is None:
            return self.severity
        if t < self.recovered:
            return self.severity * ((self.recovered - t) / (self.recovered - self.peak))
        return 0.0


@dataclass
class _Stay:
    admission: Admission
    ward: Ward
    pathway: _Pathway
    baseline: dict[str, float]
    on_oxygen: bool
    source: str
    ends: datetime
    course: _Course | None
    open: bool = True
    escalation: str | None = None
    token: int = 0  # which escalation response is current


@dataclass(frozen=True)
class _Arrival:
    ward: Ward
    at: datetime
    stay_days: float | None = None  # the first cohort's: admitted before the flow starts


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    kind: str = field(compare=False)  # admit | readings | ack | act | discharge
    stay: _Stay | None = field(compare=False, default=None)
    arrival: _Arrival | None = field(compare=False, default=None)
    token: int = field(compare=False, default=0)
    staff: bool = field(compare=False, default=False)


class _Flow:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        wards: VirtualWards,
        rng: random.Random,
        until: datetime,
        first: date,
    ) -> None:
        self.sessions = sessions
        self.wards = wards
        self.rng = rng
        self.until = until
        self.first = first
        self.events: list[_Event] = []
        # The flow's escalations not yet acknowledged, and when each is due.
        self.due: dict[str, datetime] = {}
        self.session: Session  # the day's: each day is one transaction
        self.seq = 0
        self.stays: list[_Stay] = []
        self.admitted = self.discharged = self.readings = 0
        self.escalations = self.re_escalations = self.deteriorated = 0
        self.ward_list = sorted(wards.config.wards.values(), key=lambda w: w.id)
        with sessions() as session:
            people = _people(session, first)
            self.busy = set(
                session.execute(
                    select(tables.admission.c.person_key).where(
                        tables.admission.c.discharged_at.is_(None)
                    )
                ).scalars()
            )
            self.occupied = {w.id: 0 for w in self.ward_list}
            for ward_id in session.execute(
                select(tables.admission.c.ward_id).where(tables.admission.c.discharged_at.is_(None))
            ).scalars():
                if ward_id in self.occupied:
                    self.occupied[ward_id] += 1
        self.eligible = {w.id: [p for p in people if _fits(p, w)] for w in self.ward_list}
        self.queue: dict[str, list[_Person]] = {w.id: [] for w in self.ward_list}
        self.used: set[str] = set()
        self.target = {w.id: rng.uniform(0.68, 0.78) for w in self.ward_list}

    # --- the schedule ----------------------------------------------------------------------

    def push(
        self,
        at: datetime,
        kind: str,
        *,
        stay: _Stay | None = None,
        arrival: _Arrival | None = None,
        token: int = 0,
        staff: bool = False,
    ) -> None:
        if at > self.until:
            return  # after the flow: it has not happened yet
        self.seq += 1
        heapq.heappush(self.events, _Event(at, self.seq, kind, stay, arrival, token, staff))

    def run_until(self, end: datetime) -> None:
        """Everything that happens before ``end``, in time order, in one transaction."""
        with self.sessions.begin() as self.session:
            while self.events and self.events[0].at < end:
                self.happen(heapq.heappop(self.events))

    def happen(self, event: _Event) -> None:
        if event.kind == "admit" and event.arrival is not None:
            self.admit(event.arrival)
        elif event.stay is not None and event.stay.open:
            if event.kind == "readings":
                self.take(event.stay, event.at, event.staff)
            elif event.kind == "ack":
                self.acknowledge(event.stay, event.at, event.token)
            elif event.kind == "act":
                self.act(event.stay, event.at, event.token)
            elif event.kind == "discharge":
                self.discharge(event.stay, event.at)

    def first_cohort(self, start: datetime) -> None:
        for ward in self.ward_list:
            low, high, mode = _pathway(ward).stay_days
            for _ in range(round(ward.beds * self.target[ward.id]) - self.occupied[ward.id]):
                # On the ward at the start: part way through a stay of the usual length.
                days = self.rng.triangular(low, high, mode)
                at = start - timedelta(days=self.rng.uniform(0.1, days - 0.5))
                self.push(at, "admit", arrival=_Arrival(ward, at, days))

    def day(self, day: date) -> None:
        """Schedule a day's readings for everyone on a ward, and the day's admissions."""
        for stay in self.stays:
            if stay.open:
                self.rounds(stay, day, after=stay.admission.admitted_at + timedelta(minutes=30))
        weekend = day.weekday() >= 5
        for ward in self.ward_list:
            low, high, mode = _pathway(ward).stay_days
            mean_stay = (low + high + mode) / 3
            target = ward.beds * self.target[ward.id]
            # The usual arrivals for the occupancy wanted, and more (or fewer) to get back to it.
            expected = max(0.0, (2 * target - self.occupied[ward.id]) / mean_stay)
            expected *= 0.75 if weekend else 1.1
            n = max(0, round(self.rng.gauss(expected, math.sqrt(expected + 1) * 0.6)))
            for _ in range(n):
                at = _local(day, self.rng.uniform(9, 17))
                self.push(at, "admit", arrival=_Arrival(ward, at))

    def worsen_now(self, day: date) -> None:
        """On each ward, one person who is well (and staying) starts to deteriorate from
        ``day``, so that they are getting worse at ``until``: every board has someone to
        watch now."""
        rng, until = self.rng, self.until
        earliest = _local(day, 1)
        for ward in self.ward_list:
            well = [
                s
                for s in self.stays
                if s.open
                and s.ward is ward
                and s.course is None
                and s.ends > until + timedelta(days=1)
            ]
            if not well:
                continue
            stay = rng.choice(well)
            onset = max(earliest, until - timedelta(hours=rng.uniform(18, 30)))
            peak = until + timedelta(hours=rng.uniform(3, 12))
            stay.course = _Course(
                onset,
                peak,
                peak + timedelta(days=rng.uniform(1, 3)),
                rng.uniform(0.85, 1.0),
                confusion=ward.pathway != "oximetry-at-home" and rng.random() < 0.4,
                fever=rng.random() < 0.8,
                low_pressure=rng.random() < 0.5,
            )
            stay.ends = max(stay.ends, stay.course.peak + timedelta(days=4))
            self.deteriorated += 1

    def latest(self) -> None:
        """People deteriorating now have just sent readings (they are watched more
        closely), so the boards show them as they are."""
        for stay in self.stays:
            if stay.open and stay.course is not None and stay.course.at(self.until) > 0:
                self.push(
                    self.until - timedelta(minutes=self.rng.uniform(2, 20)), "readings", stay=stay
                )

    def rounds(self, stay: _Stay, day: date, after: datetime) -> None:
        """The day's scheduled sets of readings after ``after``."""
        per_day = stay.ward.readings_per_day
        interval = 24 / per_day
        for n in range(per_day):
            hour = 14.5 - (per_day - 1) * interval / 2 + n * interval
            at = _local(day, hour) + timedelta(minutes=max(-45, min(45, self.rng.gauss(0, 20))))
            if at <= after:
                continue
            if stay.course is None and self.rng.random() < MISSED:
                continue
            self.push(at, "readings", stay=stay)

    # --- what the ward does ----------------------------------------------------------------

    def pick(self, ward: Ward) -> _Person | None:
        queue = self.queue[ward.id]
        for fresh in (True, False):
            if not queue:
                pool = [
                    p
                    for p in self.eligible[ward.id]
                    if p.key not in self.busy and (not fresh or p.key not in self.used)
                ]
                queue.extend(_weighted_order(self.rng, pool, lambda p: _weight(p, ward)))
            while queue:
                person = queue.pop()
                if person.key not in self.busy:
                    return person
        return None

    def admit(self, arrival: _Arrival) -> None:
        ward, at = arrival.ward, arrival.at
        if self.occupied[ward.id] >= ward.beds:
            return
        person = self.pick(ward)
        if person is None:
            return
        rng, pathway = self.rng, _pathway(ward)
        kind = _choose(rng, KIND_WEIGHTS)
        try:
            session = self.session
            admission, _token = self.wards.admit(
                session,
                ward.id,
                person.key,
                kind=kind,
                care_plan=rng.choice(pathway.care_plans[kind]),
                by=_team(ward),
                now=at,
            )
        except WardError:
            self.busy.add(person.key)  # on a ward the flow does not know of
            return
        self.busy.add(person.key)
        self.used.add(person.key)
        self.occupied[ward.id] += 1
        self.admitted += 1
        low, high, mode = pathway.stay_days
        days = arrival.stay_days or rng.triangular(low, high, mode)
        ends = at + timedelta(days=days)
        start = _local(self.first, 0)
        course = None
        if rng.random() < DETERIORATE:
            earliest = max(at + timedelta(hours=12), start + timedelta(hours=6))
            span = (ends - earliest) / timedelta(days=1)
            onset = earliest + timedelta(days=rng.uniform(0, max(0.5, span - 1)))
            peak = onset + timedelta(days=rng.uniform(1, 3))
            to_hospital = rng.random() < TO_HOSPITAL
            recovered = None if to_hospital else peak + timedelta(days=rng.uniform(1, 3))
            course = _Course(
                onset,
                peak,
                recovered,
                rng.uniform(0.85, 1.0) if to_hospital else rng.uniform(0.45, 0.9),
                confusion=ward.pathway != "oximetry-at-home" and rng.random() < 0.4,
                fever=rng.random() < 0.8,
                low_pressure=rng.random() < 0.5,
            )
            if recovered is not None:
                ends = max(ends, recovered + timedelta(days=rng.uniform(1, 2)))
            if onset <= self.until:
                self.deteriorated += 1
        stay = _Stay(
            admission,
            ward,
            pathway,
            _baseline(rng, ward),
            on_oxygen=ward.pathway != "oximetry-at-home" and rng.random() < 0.04,
            source=_choose(rng, pathway.sources),
            ends=ends,
            course=course,
        )
        self.stays.append(stay)
        leave = _local(ends.astimezone(LOCAL).date(), rng.uniform(10, 16))
        self.push(max(leave, at + timedelta(hours=20)), "discharge", stay=stay)
        if arrival.stay_days is None:
            # Readings taken at the admission visit, then the day's rounds from then on.
            first = at + timedelta(minutes=rng.uniform(20, 60))
            self.push(first, "readings", stay=stay, staff=True)
            self.rounds(stay, at.astimezone(LOCAL).date(), after=first + timedelta(hours=2))

    def take(self, stay: _Stay, now: datetime, staff: bool) -> None:
        rng = self.rng
        source = "staff" if staff or rng.random() < 0.05 else stay.source
        delay = {"device": (0, 3), "patient": (1, 15), "staff": (0, 10)}[source]
        taken_at = now - timedelta(minutes=rng.uniform(*delay))
        readings = _readings(rng, stay, taken_at)
        by = _BY.get(source, _team(stay.ward))
        session = self.session
        self.sweep(session, now)
        taken = self.wards.take_readings(
            session, stay.admission, readings, source=source, by=by, now=now
        )
        self.readings += taken.stored
        escalation = taken.escalation
        if escalation is None:
            return
        if escalation.version == 1:
            self.escalations += 1
        stay.escalation = escalation.id
        stay.token += 1
        self.due[escalation.id] = escalation.due_at
        allowed = self.wards.config.response_times[escalation.level]
        late = rng.random() < LATE
        ack = now + allowed * (rng.uniform(1.2, 2.8) if late else rng.uniform(0.15, 0.9))
        low, high = ACT_AFTER[escalation.level]
        self.push(ack, "ack", stay=stay, token=stay.token)
        self.push(
            ack + timedelta(minutes=rng.uniform(low, high)), "act", stay=stay, token=stay.token
        )

    def sweep(self, session: Session, now: datetime) -> None:
        """The schedule's re-escalation of what is overdue (only when something is: a
        sweep that finds nothing changes nothing)."""
        if not any(due < now for due in self.due.values()):
            return
        for escalation in self.wards.sweep(session, now):
            self.re_escalations += 1
            if escalation.id in self.due:
                self.due[escalation.id] = now + self.wards.config.response_times[escalation.level]

    def acknowledge(self, stay: _Stay, now: datetime, token: int) -> None:
        if token != stay.token or stay.escalation is None:
            return
        session = self.session
        self.sweep(session, now)
        current = get_escalation(session, stay.escalation)
        self.due.pop(current.id, None)
        if current.status == "open":
            self.wards.acknowledge(
                session,
                current.id,
                by=_team(stay.ward),
                now=now,
                expected_version=current.version,
            )

    def act(self, stay: _Stay, now: datetime, token: int) -> None:
        if token != stay.token or stay.escalation is None:
            return
        rng, course = self.rng, stay.course
        session = self.session
        self.sweep(session, now)
        current = get_escalation(session, stay.escalation)
        self.due.pop(current.id, None)
        if current.status == "closed":
            stay.escalation = None
            return
        # A person deteriorating towards hospital goes once they are near their worst.
        to_hospital = (
            course is not None
            and course.recovered is None
            and now >= course.onset + (course.peak - course.onset) * 0.6
            and current.level != "urgent-review"
        )
        action = rng.choice(
            stay.pathway.hospital if to_hospital else stay.pathway.actions[current.level]
        )
        by = _team(stay.ward)
        self.wards.act(
            session, current.id, action=action, by=by, now=now, expected_version=current.version
        )
        stay.escalation = None
        if to_hospital:
            self.wards.discharge(
                session,
                stay.admission.id,
                outcome="admitted",
                note="Deteriorated on the ward; admitted to hospital.",
                by=by,
                now=now,
            )
            self.left(stay)

    def discharge(self, stay: _Stay, now: datetime) -> None:
        course = stay.course
        unwell = course is not None and (course.recovered is None or now < course.recovered)
        if stay.escalation is not None or unwell:
            self.push(now + timedelta(days=1), "discharge", stay=stay)  # not today
            return
        outcome, note = (
            ("recovered-at-home", "Recovered at home after deteriorating on the ward.")
            if course is not None
            else _choose(self.rng, stay.pathway.outcomes)
        )
        session = self.session
        self.sweep(session, now)
        self.wards.discharge(
            session, stay.admission.id, outcome=outcome, note=note, by=_team(stay.ward), now=now
        )
        self.left(stay)

    def left(self, stay: _Stay) -> None:
        stay.open = False
        self.busy.discard(stay.admission.person_key)
        self.occupied[stay.ward.id] -= 1
        self.discharged += 1

    def report(self) -> WardsFlowReport:
        return WardsFlowReport(
            admitted=self.admitted,
            discharged=self.discharged,
            still_on_ward=sum(s.open for s in self.stays),
            readings=self.readings,
            escalations=self.escalations,
            re_escalations=self.re_escalations,
            deteriorated=self.deteriorated,
        )


def generate_wards_flow(
    sessions: sessionmaker[Session],
    wards: VirtualWards,
    *,
    days: int,
    until: datetime,
    seed: int = 2026,
    progress: Callable[[int], None] = lambda _n: None,
) -> WardsFlowReport:
    """Stays on every ward over the ``days`` (local days, the last ending at ``until``),
    worked step by step through the real store, each day one transaction; ``progress`` is
    told of each day done. The same seed on the same people makes the same flow."""
    until = until.astimezone(UTC)
    first = until.astimezone(LOCAL).date() - timedelta(days=days - 1)
    flow = _Flow(sessions, wards, random.Random(seed), until, first)
    start = _local(first, 0)
    flow.first_cohort(start)
    flow.run_until(start)
    for n in range(days):
        day = first + timedelta(days=n)
        if n == max(0, days - 2):
            flow.worsen_now(day)
        flow.day(day)
        if n == days - 1:
            flow.latest()
        flow.run_until(min(_local(day + timedelta(days=1), 0), until + timedelta(microseconds=1)))
        progress(1)
    return flow.report()


# --- readings ------------------------------------------------------------------------------


def _baseline(rng: random.Random, ward: Ward) -> dict[str, float]:
    """A person's usual readings (all scoring 0 or 1 on NEWS2)."""
    oximetry = ward.pathway == "oximetry-at-home"
    return {
        "respiratory_rate": rng.randint(14, 18),
        "spo2": rng.randint(96, 98) if oximetry else rng.randint(94, 98),
        "systolic": rng.randint(112, 160),
        "pulse": rng.randint(64, 92) if oximetry else rng.randint(60, 86),
        "temperature": rng.uniform(36.3, 37.3),
    }


def _readings(rng: random.Random, stay: _Stay, at: datetime) -> list[Reading]:
    """One set of the ward's readings at ``at``: the person's usual, with noise, made worse
    by a deterioration under way."""
    s = stay.course.at(at) if stay.course is not None else 0.0
    course = stay.course
    base = stay.baseline
    spo2_noise = rng.choice((-1, 0, 0, 0, 1))
    if s == 0 and rng.random() < 0.004:  # a dip: a cold finger, a loose probe
        spo2_noise = -rng.randint(2, 3)
    values: dict[str, float] = {
        "respiratory_rate": base["respiratory_rate"] + 12 * s + rng.choice((-1, 0, 0, 1)),
        "spo2": base["spo2"] - 8 * s + spo2_noise,
        "systolic": base["systolic"]
        - (30 * s if course is not None and course.low_pressure else 0)
        + rng.gauss(0, 7),
        "pulse": base["pulse"] + 40 * s + rng.gauss(0, 4),
        "temperature": base["temperature"]
        + (2.2 * s if course is not None and course.fever else 0)
        + rng.gauss(0, 0.15),
    }
    key = f"synthetic/{stay.admission.id}/{at.isoformat()}"
    readings = []
    for parameter in stay.ward.observations:
        if parameter == "consciousness":
            confused = course is not None and course.confusion and s >= 0.6
            readings.append(
                Reading(parameter, at, f"{key}/{parameter}", code="C" if confused else "A")
            )
        elif parameter == "air_or_oxygen":
            readings.append(
                Reading(parameter, at, f"{key}/{parameter}", value=1.0 if stay.on_oxygen else 0.0)
            )
        else:
            readings.append(
                Reading(
                    parameter,
                    at,
                    f"{key}/{parameter}",
                    value=_plausible(parameter, values[parameter]),
                )
            )
    return readings


def _plausible(parameter: str, value: float) -> float:
    """A reading as a device or a person writes it (whole numbers, temperature to one
    decimal), within what a living person has."""
    low, high = LIMITS[parameter]
    plausible_low, plausible_high, _unit = PLAUSIBLE_RANGES[parameter]
    value = min(max(value, low, plausible_low), high, plausible_high)
    return round(value, 1) if parameter == "temperature" else float(round(value))


# --- people --------------------------------------------------------------------------------


def _people(session: Session, on: date) -> list[_Person]:
    """Living people in the person index with a date of birth, in an order that does not
    depend on the store's keys (NHS number, birth date, postcode)."""
    s, lk = identity_tables.source_record, identity_tables.link
    rows = session.execute(
        select(lk.c.person_key, s.c.nhs_number, s.c.birth_date, s.c.postcode, s.c.death_date)
        .join(s, s.c.id == lk.c.source_record_id)
        .where(lk.c.valid_to.is_(None))
    )
    found: dict[str, list[tuple[str | None, date | None, str | None, date | None]]] = {}
    for key, nhs, born, postcode, died in rows:
        found.setdefault(key, []).append((nhs, born, postcode, died))
    districts = _district_areas(session)
    people: list[tuple[tuple[str, str, str, str], _Person]] = []
    for key, records in found.items():
        if any(died is not None for *_, died in records):
            continue
        births = sorted(b for _, b, _, _ in records if b is not None)
        if not births:
            continue
        nhs = min((n for n, *_ in records if n), default="")
        postcode = min((p for _, _, p, _ in records if p), default="")
        area = districts.get(_district(postcode)) if postcode and districts else None
        outside = bool(postcode) and bool(districts) and area is None
        born = births[0]
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        people.append(((nhs, born.isoformat(), postcode, key), _Person(key, age, area, outside)))
    return [p for _, p in sorted(people, key=lambda item: item[0])]


def _district_areas(session: Session) -> dict[str, str]:
    directory = read_directory(session)
    if directory is None:
        return {}
    return {d: place.area for place in directory.places for d in place.postcode_districts}


def _district(postcode: str) -> str:
    """A postcode's district (its outward code), as the referral router reads it."""
    postcode = postcode.upper()
    return postcode.split()[0] if " " in postcode else postcode[:-3]


def _fits(person: _Person, ward: Ward) -> bool:
    service = ward.service
    if not service.age_min <= person.age <= service.age_max or person.outside:
        return False
    return person.area is None or person.area in service.areas


def _weight(person: _Person, ward: Ward) -> float:
    """Older people are on virtual wards more often."""
    return float(max(1, person.age - 60) if ward.pathway != "oximetry-at-home" else person.age)


# --- helpers -------------------------------------------------------------------------------


def _weighted_order(
    rng: random.Random, items: Sequence[_T], weight: Callable[[_T], float]
) -> list[_T]:
    """``items`` in a random order, heavier first more often; the first to pop is last."""
    keyed = sorted(((rng.random() ** (1 / weight(i)), n) for n, i in enumerate(items)))
    return [items[n] for _, n in keyed]


def _choose(rng: random.Random, weighted: Sequence[tuple[_T, int]]) -> _T:
    chosen: _T = rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]
    return chosen


def _local(day: date, hour: float) -> datetime:
    """``hour`` hours into a local day, in UTC."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=LOCAL)
    return (midnight + timedelta(hours=hour)).astimezone(UTC)


def _team(ward: Ward) -> str:
    return f"synthetic-team-{ward.id}"
