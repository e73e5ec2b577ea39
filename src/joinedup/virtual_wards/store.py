"""Virtual wards in the operational store: admitting and discharging, taking readings in,
scoring them, escalating, and the ward board.

Every change is one transaction in the caller's session; a change that fails writes
nothing (:class:`WardError` says what and where). Readings are checked before anything is
stored: an implausible one refuses the whole set, never scored. A reading already taken
(the same ``dedup_key``: a device's re-sent upload) is skipped, so re-delivery is safe.

**Scoring.** After new readings, the set scored is the newest reading of each parameter
within the ward's set window (an hour by default) before the newest new reading: readings
taken together, not a stale one from yesterday. With a parameter missing, NEWS2 has no
total (:mod:`joinedup.virtual_wards.news2`) and the gap is kept with the score.

**Escalation.** A NEWS2 total of 7 or more is an emergency, 5-6 an urgent response, and a
single parameter scoring 3 an urgent review (RCP Chart 4); a ward's own threshold raises
its own level. One escalation is open per admission at a time: worse readings raise its
level (and re-open it if it had been acknowledged), others leave it be. An escalation not
acknowledged by its due time re-escalates (:meth:`VirtualWards.sweep`): counted, and due
again a response time later.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from joinedup.access.audit import as_utc
from joinedup.feeds.model import Issue, IssueCode, IssueError, PersonDetails
from joinedup.identity.index import attach_source_record, source_record_id
from joinedup.records.query import person_exists
from joinedup.records.store import prepare_resources, store_resources
from joinedup.virtual_wards import tables
from joinedup.virtual_wards.config import LEVELS, Ward, Wards
from joinedup.virtual_wards.news2 import (
    CONSCIOUSNESS_LEVELS,
    NEWS2_TOTAL_CODE,
    NEWS2_TOTAL_DISPLAY,
    PARAMETERS,
    RESPONSES,
    News2,
    Vitals,
    check_vitals,
    news2,
)

KINDS: Final = ("step-up", "step-down")
KIND_NAMES: Final = {
    "step-up": "Step-up (from the community, instead of an admission)",
    "step-down": "Step-down (early discharge from hospital)",
}
OUTCOMES: Final = {
    "recovered-at-home": "Recovered at home",
    "admitted": "Admitted to hospital",
    "died": "Died",
    "other": "Other",
}
SOURCES: Final = ("device", "patient", "staff")
#: How late a set of readings may be before it counts as missed.
GRACE: Final = timedelta(hours=1)
#: Which NEWS2 band raises which escalation level.
BAND_LEVEL: Final = {
    "high": "emergency",
    "medium": "urgent-response",
    "low-medium": "urgent-review",
}

#: The feed a virtual-ward stay's EpisodeOfCare is kept under, per providing organisation.
FEED: Final = "virtual-wards"
ADMISSION_SYSTEM: Final = "https://joinedup.nhs.uk/Id/virtual-ward-admission"
CARE_SETTING_SYSTEM: Final = "https://joinedup.nhs.uk/CodeSystem/care-setting"
SERVICE_SYSTEM: Final = "https://joinedup.nhs.uk/Id/directory-service"
ODS_SYSTEM: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
SNOMED: Final = "http://snomed.info/sct"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
NEWS2_PARAMETER_SYSTEM: Final = "https://joinedup.nhs.uk/CodeSystem/news2-parameter"
#: The extension carrying a stay's ward, kind and outcome (read by the analytical lake).
STAY_EXTENSION: Final = "https://joinedup.nhs.uk/StructureDefinition/virtual-ward-stay"

_a = tables.admission
_o = tables.observation
_s = tables.score
_x = tables.escalation


class WardError(IssueError):
    """A ward action that cannot be done; nothing has been written (404 no such ward, stay
    or person, 409 a conflict with the stay's state, 412 changed since read, 422 invalid)."""


@dataclass(frozen=True)
class Admission:
    id: str
    version: int
    ward_id: str
    person_key: str
    kind: str
    referral_id: str | None
    admitted_at: datetime
    admitted_by: str
    care_plan: str
    readings_per_day: int
    spo2_scale: int
    discharged_at: datetime | None
    discharged_by: str | None
    outcome: str | None
    outcome_note: str | None

    @property
    def open(self) -> bool:
        return self.discharged_at is None

    def length_of_stay(self, now: datetime) -> timedelta:
        return (self.discharged_at or now) - self.admitted_at


@dataclass(frozen=True)
class Reading:
    """One reading as it arrived. ``value`` for numbers (air or oxygen: 0 air, 1 oxygen),
    ``code`` for consciousness (A, C, V, P, U). ``dedup_key`` identifies it across re-sends
    (a device's Observation identifier; a form's submission id and parameter)."""

    parameter: str
    effective_at: datetime
    dedup_key: str
    value: float | None = None
    code: str | None = None


@dataclass(frozen=True)
class Score:
    effective_at: datetime
    total: int | None
    band: str | None
    parameters: list[dict[str, Any]]
    missing: list[str]


@dataclass(frozen=True)
class Escalation:
    id: str
    version: int
    admission_id: str
    ward_id: str
    level: str
    reasons: list[str]
    response: str
    raised_at: datetime
    observed_at: datetime
    due_at: datetime
    status: str
    re_escalations: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    action: str | None

    def overdue(self, now: datetime) -> bool:
        return self.status == "open" and now > self.due_at


@dataclass(frozen=True)
class Taken:
    """What a set of readings did: stored, skipped as already taken, the score, and the
    escalation it raised or raised the level of (if any)."""

    stored: int
    duplicates: int
    score: Score | None = None
    escalation: Escalation | None = None


class VirtualWards:
    """The ICS's virtual wards: their set-up (:class:`Wards`) and what is done on them."""

    def __init__(self, wards: Wards) -> None:
        self.config = wards

    def ward(self, ward_id: str) -> Ward:
        ward = self.config.get(ward_id)
        if ward is None:
            raise WardError.one(404, IssueCode.NOT_FOUND, "ward", "no virtual ward has this id")
        return ward

    # --- admission and discharge -----------------------------------------------------------

    def admit(
        self,
        session: Session,
        ward_id: str,
        person_key: str,
        *,
        kind: str,
        care_plan: str,
        by: str,
        now: datetime,
        spo2_scale: int = 1,
        referral_id: str | None = None,
    ) -> tuple[Admission, str]:
        """Admit a person; the admission and its personal reading link's token (shown once:
        only its hash is kept)."""
        ward = self.ward(ward_id)
        issues = []
        if kind not in KINDS:
            issues.append(Issue(IssueCode.VALUE, "kind", "step-up or step-down"))
        if len(care_plan.strip()) < 10:
            issues.append(
                Issue(
                    IssueCode.REQUIRED, "care_plan", "write the care plan (at least 10 characters)"
                )
            )
        if spo2_scale not in (1, 2):
            issues.append(Issue(IssueCode.VALUE, "spo2_scale", "SpO2 scale 1 or 2"))
        if issues:
            raise WardError(422, issues)
        if not person_exists(session, person_key):
            raise WardError.one(404, IssueCode.NOT_FOUND, "person", "no such person in the index")
        if open_admission(session, person_key) is not None:
            raise WardError.one(
                409, IssueCode.DUPLICATE, "person", "the person is already on a virtual ward"
            )
        if occupied(session, ward_id) >= ward.beds:
            raise WardError.one(
                409,
                IssueCode.CONFLICT,
                "ward",
                f"the ward is full ({ward.beds} virtual beds): discharge someone or choose another ward",
            )
        token = secrets.token_urlsafe(24)
        row = {
            "id": "vwa-" + uuid.uuid4().hex[:16],
            "version": 1,
            "ward_id": ward_id,
            "person_key": person_key,
            "kind": kind,
            "referral_id": referral_id,
            "admitted_at": now,
            "admitted_by": by,
            "care_plan": care_plan.strip(),
            "readings_per_day": ward.readings_per_day,
            "spo2_scale": spo2_scale,
            "link_hash": link_hash(token),
            "discharged_at": None,
            "discharged_by": None,
            "outcome": None,
            "outcome_note": None,
        }
        try:
            session.execute(insert(_a), row)
        except IntegrityError:  # admitted elsewhere at the same moment (one open stay each)
            raise WardError.one(
                409, IssueCode.DUPLICATE, "person", "the person is already on a virtual ward"
            ) from None
        admission = _admission(row)
        self._keep_in_record(session, admission, attach=True)
        return admission, token

    def discharge(
        self,
        session: Session,
        admission_id: str,
        *,
        outcome: str,
        note: str,
        by: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> Admission:
        """Discharge with an outcome; open escalations close with it."""
        current = self._open(session, admission_id, expected_version)
        if outcome not in OUTCOMES:
            raise WardError.one(422, IssueCode.VALUE, "outcome", f"one of {', '.join(OUTCOMES)}")
        session.execute(
            update(_a)
            .where(_a.c.id == admission_id)
            .values(
                version=current.version + 1,
                discharged_at=now,
                discharged_by=by,
                outcome=outcome,
                outcome_note=note.strip() or None,
                link_hash=None,  # the personal link stops working
            )
        )
        for escalation in escalations(session, admission_id=admission_id, active=True):
            self._close(session, escalation, f"discharged: {OUTCOMES[outcome]}", by, now)
        after = get_admission(session, admission_id)
        self._keep_in_record(session, after, attach=False)
        return after

    # --- the shared care record -----------------------------------------------------------

    def episode(self, admission: Admission) -> dict[str, Any]:
        """A stay as a FHIR EpisodeOfCare in the person's record: its ward, provider,
        period and outcome. While it is open its provider has a legitimate relationship
        with the person (open care)."""
        ward = self.ward(admission.ward_id)
        parts: list[dict[str, Any]] = [
            {"url": "ward", "valueCode": ward.id},
            {"url": "pathway", "valueCode": ward.pathway},
            {"url": "kind", "valueCode": admission.kind},
        ]
        if admission.outcome:
            parts.append({"url": "outcome", "valueCode": admission.outcome})
        period = {"start": admission.admitted_at.isoformat()}
        if admission.discharged_at is not None:
            period["end"] = admission.discharged_at.isoformat()
        return {
            "resourceType": "EpisodeOfCare",
            "id": admission.id,
            "identifier": [{"system": ADMISSION_SYSTEM, "value": admission.id}],
            "status": "active" if admission.open else "finished",
            "type": [
                {
                    "coding": [
                        {
                            "system": CARE_SETTING_SYSTEM,
                            "code": "virtual-ward",
                            "display": "Virtual ward",
                        }
                    ],
                    "text": ward.name,
                }
            ],
            "patient": {"reference": f"Patient/{admission.person_key}"},
            "managingOrganization": {
                "identifier": {"system": ODS_SYSTEM, "value": ward.service.provider}
            },
            "period": period,
            "extension": [{"url": STAY_EXTENSION, "extension": parts}],
        }

    def score_observation(self, admission: Admission, score: Score) -> dict[str, Any]:
        """A NEWS2 score as a FHIR Observation (SNOMED CT 1104051000000101) with a component
        per parameter scored; with a parameter missing, no total (``dataAbsentReason``) and
        a note naming what is missing."""
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"{admission.id}-news2-{score.effective_at:%Y%m%dT%H%M%S}",
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey"}]}],
            "code": {
                "coding": [
                    {"system": SNOMED, "code": NEWS2_TOTAL_CODE, "display": NEWS2_TOTAL_DISPLAY}
                ],
                "text": "NEWS2 total score",
            },
            "subject": {"reference": f"Patient/{admission.person_key}"},
            "effectiveDateTime": score.effective_at.isoformat(),
            "component": [
                {
                    "code": {
                        "coding": [{"system": NEWS2_PARAMETER_SYSTEM, "code": p["parameter"]}],
                        "text": p["parameter"].replace("_", " "),
                    },
                    "valueInteger": p["score"],
                }
                for p in score.parameters
            ],
        }
        if score.total is not None:
            resource["valueInteger"] = score.total
            resource["interpretation"] = [{"text": f"{score.band} (RCP NEWS2 Chart 2)"}]
        else:
            resource["dataAbsentReason"] = {
                "coding": [{"system": DATA_ABSENT_REASON, "code": "unknown"}],
                "text": "not scored: a parameter is missing",
            }
            resource["note"] = [{"text": "Missing: " + ", ".join(score.missing)}]
        return resource

    def _keep_in_record_score(
        self, session: Session, admission: Admission, score: Score, now: datetime
    ) -> None:
        """The score in the person's record, under the ward provider's virtual-wards feed."""
        provider = self.ward(admission.ward_id).service.provider
        store_resources(
            session,
            prepare_resources(
                [self.score_observation(admission, score)],
                partner=provider,
                feed=FEED,
                patient_local_id=admission.person_key,
            ),
            partner=provider,
            feed=FEED,
            message_id=f"{admission.id}#news2#{score.effective_at.isoformat()}",
            received_at=now,
            source_record_id=source_record_id(
                session, partner=provider, feed=FEED, local_id=admission.person_key
            ),
        )

    def _keep_in_record(self, session: Session, admission: Admission, *, attach: bool) -> None:
        """Write (or update) the stay's EpisodeOfCare under the provider's virtual-wards feed,
        linked to the person (a source record of the provider's, resolved, on admission)."""
        provider = self.ward(admission.ward_id).service.provider
        if attach:
            source_record: int | None = attach_source_record(
                session,
                partner=provider,
                feed=FEED,
                person=PersonDetails(local_id=admission.person_key),
                person_key=admission.person_key,
                reason="admitted to a virtual ward from the shared care record",
                at=admission.admitted_at,
            )
        else:
            source_record = source_record_id(
                session, partner=provider, feed=FEED, local_id=admission.person_key
            )
        store_resources(
            session,
            prepare_resources(
                [self.episode(admission)],
                partner=provider,
                feed=FEED,
                patient_local_id=admission.person_key,
            ),
            partner=provider,
            feed=FEED,
            message_id=f"{admission.id}#{admission.version}",
            received_at=admission.discharged_at or admission.admitted_at,
            source_record_id=source_record,
        )

    def new_link(self, session: Session, admission_id: str) -> str:
        """A new personal reading link for an open admission (the old one stops working)."""
        current = self._open(session, admission_id, None)
        token = secrets.token_urlsafe(24)
        session.execute(
            update(_a)
            .where(_a.c.id == admission_id)
            .values(link_hash=link_hash(token), version=current.version + 1)
        )
        return token

    def _open(self, session: Session, admission_id: str, expected: int | None) -> Admission:
        current = get_admission(session, admission_id)
        if expected is not None and expected != current.version:
            raise WardError.one(
                412,
                IssueCode.CONFLICT,
                "version",
                "the admission has changed since you read it: read it again",
            )
        if not current.open:
            raise WardError.one(409, IssueCode.CONFLICT, "admission", "already discharged")
        return current

    # --- readings, scores and escalation ----------------------------------------------------

    def take_readings(
        self,
        session: Session,
        admission: Admission,
        readings: Sequence[Reading],
        *,
        source: str,
        by: str,
        now: datetime,
    ) -> Taken:
        """Store new readings, score the set they complete, and escalate if it calls for it.
        Raises :class:`WardError` 422 (nothing stored) for an implausible reading, and 409
        for a stay discharged (by now, in the store, whatever ``admission`` says)."""
        still_open = session.execute(
            select(_a.c.id).where(_a.c.id == admission.id, _a.c.discharged_at.is_(None))
        ).scalar()
        if still_open is None:
            raise WardError.one(409, IssueCode.CONFLICT, "admission", "already discharged")
        problems = reading_problems(readings, now)
        if problems:
            raise WardError(422, [Issue(IssueCode.VALUE, where, what) for where, what in problems])
        keys = [r.dedup_key for r in readings]
        known = set(
            session.execute(select(_o.c.dedup_key).where(_o.c.dedup_key.in_(keys))).scalars()
        )
        new = [r for r in readings if r.dedup_key not in known]
        if not new:
            return Taken(0, len(readings))
        session.execute(
            insert(_o),
            [
                {
                    "admission_id": admission.id,
                    "parameter": r.parameter,
                    "value": r.value,
                    "code": r.code,
                    "effective_at": r.effective_at,
                    "received_at": now,
                    "source": source,
                    "recorded_by": by,
                    "dedup_key": r.dedup_key,
                }
                for r in new
            ],
        )
        at = max(r.effective_at for r in new)
        latest = self._set(session, admission, at)
        result = news2(_vitals(latest, admission.spo2_scale))
        score = Score(
            at,
            result.total,
            result.band,
            [
                {"parameter": p.parameter, "value": p.value, "score": p.score}
                for p in result.parameters
            ],
            list(result.missing),
        )
        session.execute(
            insert(_s),
            {
                "admission_id": admission.id,
                "effective_at": at,
                "total": score.total,
                "band": score.band,
                "parameters": score.parameters,
                "missing": score.missing,
                "computed_at": now,
            },
        )
        self._keep_in_record_score(session, admission, score, now)
        escalation = self._escalate(session, admission, result, latest, at, now)
        return Taken(len(new), len(readings) - len(new), score, escalation)

    def _set(self, session: Session, admission: Admission, at: datetime) -> dict[str, Any]:
        """The newest reading of each parameter within the set window up to ``at``."""
        rows = session.execute(
            select(_o.c.parameter, _o.c.value, _o.c.code)
            .where(
                _o.c.admission_id == admission.id,
                _o.c.effective_at <= at,
                _o.c.effective_at >= at - self.config.set_window,
            )
            .order_by(_o.c.effective_at.desc(), _o.c.id.desc())
        )
        latest: dict[str, Any] = {}
        for parameter, value, code in rows:
            latest.setdefault(parameter, code if parameter == "consciousness" else value)
        return latest

    def _escalate(
        self,
        session: Session,
        admission: Admission,
        result: News2,
        latest: dict[str, Any],
        observed_at: datetime,
        now: datetime,
    ) -> Escalation | None:
        ward = self.ward(admission.ward_id)
        triggers: list[tuple[str, str, str]] = []  # (level, reason, response)
        if result.band in BAND_LEVEL:
            level = BAND_LEVEL[result.band]
            triggers.append(
                (level, f"NEWS2 {result.total} ({result.band})", RESPONSES[result.band].response)
            )
        elif result.single_three:
            threes = [p.parameter.replace("_", " ") for p in result.parameters if p.score == 3]
            triggers.append(
                (
                    "urgent-review",
                    f"{', '.join(threes)} scored 3 (NEWS2 single parameter)",
                    RESPONSES["low-medium"].response,
                )
            )
        for threshold in ward.thresholds:
            value = latest.get(threshold.parameter)
            if value is not None and threshold.crossed(float(value)):
                triggers.append(
                    (threshold.level, f"ward threshold: {threshold.words()}", threshold.response)
                )
        if not triggers:
            return None
        rank = LEVELS.index
        level, _, response = max(triggers, key=lambda t: rank(t[0]))
        reasons = [reason for lvl, reason, _ in triggers if lvl == level] + [
            reason for lvl, reason, _ in triggers if lvl != level
        ]
        due = now + self.config.response_times[level]
        active = next(iter(escalations(session, admission_id=admission.id, active=True)), None)
        if active is not None:
            if rank(level) <= rank(active.level):
                return None  # already escalated as far: the team is on it
            session.execute(
                update(_x)
                .where(_x.c.id == active.id)
                .values(
                    version=active.version + 1,
                    level=level,
                    reasons=reasons,
                    response=response,
                    observed_at=observed_at,
                    due_at=due,
                    status="open",
                    acknowledged_at=None,
                    acknowledged_by=None,
                )
            )
            _event(
                session,
                active.id,
                now,
                "raised-level",
                "readings",
                f"now {level}: {'; '.join(reasons)}",
            )
            return get_escalation(session, active.id)
        escalation_id = "vwe-" + uuid.uuid4().hex[:16]
        try:
            session.execute(
                insert(_x),
                {
                    "id": escalation_id,
                    "version": 1,
                    "admission_id": admission.id,
                    "ward_id": admission.ward_id,
                    "level": level,
                    "reasons": reasons,
                    "response": response,
                    "raised_at": now,
                    "observed_at": observed_at,
                    "due_at": due,
                    "status": "open",
                    "re_escalations": 0,
                    "acknowledged_at": None,
                    "acknowledged_by": None,
                    "closed_at": None,
                    "closed_by": None,
                    "action": None,
                },
            )
        except IntegrityError:  # another set escalated this stay at the same moment
            raise WardError.one(
                409,
                IssueCode.CONFLICT,
                "escalation",
                "the stay was escalated meanwhile: send again",
            ) from None
        _event(session, escalation_id, now, "raised", "readings", "; ".join(reasons))
        return get_escalation(session, escalation_id)

    def acknowledge(
        self, session: Session, escalation_id: str, *, by: str, now: datetime, expected_version: int
    ) -> Escalation:
        """A clinician has seen the escalation and is responding: it stops re-escalating."""
        current = self._active(session, escalation_id, expected_version)
        if current.status != "open":
            raise WardError.one(409, IssueCode.CONFLICT, "escalation", "already acknowledged")
        session.execute(
            update(_x)
            .where(_x.c.id == escalation_id)
            .values(
                version=current.version + 1,
                status="acknowledged",
                acknowledged_at=now,
                acknowledged_by=by,
            )
        )
        _event(session, escalation_id, now, "acknowledged", by, None)
        return get_escalation(session, escalation_id)

    def act(
        self,
        session: Session,
        escalation_id: str,
        *,
        action: str,
        by: str,
        now: datetime,
        expected_version: int,
    ) -> Escalation:
        """Record what was done and close the escalation (acknowledging it if need be)."""
        current = self._active(session, escalation_id, expected_version)
        if len(action.strip()) < 5:
            raise WardError.one(400, IssueCode.REQUIRED, "action", "say what was done")
        if current.status == "open":
            _event(session, escalation_id, now, "acknowledged", by, None)
        self._close(session, current, action.strip(), by, now)
        return get_escalation(session, escalation_id)

    def _active(self, session: Session, escalation_id: str, expected: int) -> Escalation:
        current = get_escalation(session, escalation_id)
        if expected != current.version:
            raise WardError.one(
                412, IssueCode.CONFLICT, "version", "the escalation has changed since you read it"
            )
        if current.status == "closed":
            raise WardError.one(409, IssueCode.CONFLICT, "escalation", "already closed")
        return current

    def _close(
        self, session: Session, current: Escalation, action: str, by: str, now: datetime
    ) -> None:
        session.execute(
            update(_x)
            .where(_x.c.id == current.id)
            .values(
                version=current.version + 1,
                status="closed",
                acknowledged_at=current.acknowledged_at or now,
                acknowledged_by=current.acknowledged_by or by,
                closed_at=now,
                closed_by=by,
                action=action,
            )
        )
        _event(session, current.id, now, "closed", by, action)

    def sweep(self, session: Session, now: datetime) -> list[Escalation]:
        """Re-escalate every open escalation past its due time; those re-escalated (not one
        acknowledged or changed meanwhile: its version guards the update)."""
        rows = session.execute(
            select(_x).where(_x.c.status == "open", _x.c.due_at < now).order_by(_x.c.due_at)
        ).mappings()
        overdue = []
        for e in [_escalation(r) for r in rows]:
            changed = session.execute(
                update(_x)
                .where(_x.c.id == e.id, _x.c.version == e.version, _x.c.status == "open")
                .values(
                    version=e.version + 1,
                    re_escalations=e.re_escalations + 1,
                    due_at=now + self.config.response_times[e.level],
                )
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            overdue.append(e)
            _event(
                session,
                e.id,
                now,
                "re-escalated",
                "schedule",
                f"not acknowledged by {e.due_at.isoformat()}",
            )
        return overdue


# --- checking readings ---------------------------------------------------------------------


def reading_problems(readings: Iterable[Reading], now: datetime) -> list[tuple[str, str]]:
    """Every problem with a set of readings, as (where, what): unknown parameters, readings
    in the future, implausible values (NEWS2's ranges)."""
    problems: list[tuple[str, str]] = []
    for n, r in enumerate(readings):
        where = f"reading[{n}].{r.parameter}"
        if r.parameter not in PARAMETERS:
            problems.append((where, f"not a NEWS2 parameter ({', '.join(PARAMETERS)})"))
            continue
        if r.effective_at > now + timedelta(minutes=5):
            problems.append((where, "the reading is dated in the future"))
        if r.parameter == "consciousness":
            if r.code not in CONSCIOUSNESS_LEVELS:
                problems.append(
                    (where, f"consciousness is one of {', '.join(CONSCIOUSNESS_LEVELS)}")
                )
            continue
        if r.value is None:
            problems.append((where, "no value"))
            continue
        if r.parameter == "air_or_oxygen":
            if r.value not in (0, 1):
                problems.append((where, "air (0) or oxygen (1)"))
            continue
        try:
            fields: dict[str, Any] = {r.parameter: _number(r.parameter, r.value)}
            check = check_vitals(Vitals(**fields))
        except (TypeError, ValueError) as error:
            check = [str(error)]
        problems.extend((where, p) for p in check)
    return problems


def _number(parameter: str, value: float) -> float | int:
    """A reading as NEWS2 takes it: temperature as it is, whole numbers as ints."""
    if parameter == "temperature" or value != int(value):
        return value
    return int(value)


def _vitals(latest: dict[str, Any], scale: int) -> Vitals:
    def whole(name: str) -> int | None:
        value = latest.get(name)
        return None if value is None else round(value)

    oxygen = latest.get("air_or_oxygen")
    temperature = latest.get("temperature")
    return Vitals(
        respiratory_rate=whole("respiratory_rate"),
        spo2=whole("spo2"),
        scale=scale,
        on_oxygen=None if oxygen is None else bool(oxygen),
        systolic=whole("systolic"),
        pulse=whole("pulse"),
        consciousness=latest.get("consciousness"),
        temperature=None if temperature is None else round(float(temperature), 1),
    )


# --- reading -------------------------------------------------------------------------------


def link_hash(token: str) -> str:
    """What is kept of a personal link's token (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def get_admission(session: Session, admission_id: str) -> Admission:
    row = session.execute(select(_a).where(_a.c.id == admission_id)).mappings().first()
    if row is None:
        raise WardError.one(404, IssueCode.NOT_FOUND, "admission", "no such admission")
    return _admission(row)


def admission_for_link(session: Session, token: str) -> Admission | None:
    """The open admission a personal link belongs to, or None."""
    row = session.execute(select(_a).where(_a.c.link_hash == link_hash(token))).mappings().first()
    if row is None or row["discharged_at"] is not None:
        return None
    return _admission(row)


def open_admission(session: Session, person_key: str) -> Admission | None:
    row = (
        session.execute(
            select(_a).where(_a.c.person_key == person_key, _a.c.discharged_at.is_(None))
        )
        .mappings()
        .first()
    )
    return _admission(row) if row is not None else None


def admissions(
    session: Session,
    ward_id: str,
    *,
    open_only: bool = True,
    discharged_since: datetime | None = None,
) -> list[Admission]:
    """A ward's open stays (or, with ``discharged_since``, those discharged since then)."""
    query = select(_a).where(_a.c.ward_id == ward_id)
    if discharged_since is not None:
        query = query.where(_a.c.discharged_at >= discharged_since)
    elif open_only:
        query = query.where(_a.c.discharged_at.is_(None))
    return [_admission(r) for r in session.execute(query.order_by(_a.c.admitted_at)).mappings()]


def occupied(session: Session, ward_id: str) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(_a)
            .where(_a.c.ward_id == ward_id, _a.c.discharged_at.is_(None))
        ).scalar_one()
    )


def observations(session: Session, admission_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """An admission's readings, newest first."""
    rows = session.execute(
        select(_o)
        .where(_o.c.admission_id == admission_id)
        .order_by(_o.c.effective_at.desc(), _o.c.id.desc())
        .limit(limit)
    ).mappings()
    return [
        {**r, "effective_at": as_utc(r["effective_at"]), "received_at": as_utc(r["received_at"])}
        for r in rows
    ]


def scores(
    session: Session,
    admission_ids: Sequence[str],
    since: datetime | None = None,
    *,
    with_parameters: bool = True,
) -> dict[str, list[Score]]:
    """Each admission's scores, oldest first; without their parameter scores (empty) when
    only the totals are wanted (a board's trends)."""
    columns = [_s.c.admission_id, _s.c.effective_at, _s.c.total, _s.c.band, _s.c.missing]
    if with_parameters:
        columns.append(_s.c.parameters)
    query = select(*columns).where(_s.c.admission_id.in_(admission_ids))
    if since is not None:
        query = query.where(_s.c.effective_at >= since)
    found: dict[str, list[Score]] = {a: [] for a in admission_ids}
    for r in session.execute(query.order_by(_s.c.effective_at, _s.c.id)).mappings():
        found[r["admission_id"]].append(
            Score(
                as_utc(r["effective_at"]),
                r["total"],
                r["band"],
                r["parameters"] if with_parameters else [],
                r["missing"],
            )
        )
    return found


def last_readings(session: Session, admission_ids: Sequence[str]) -> dict[str, datetime]:
    """When each admission's newest reading was taken."""
    rows = session.execute(
        select(_o.c.admission_id, func.max(_o.c.effective_at))
        .where(_o.c.admission_id.in_(admission_ids))
        .group_by(_o.c.admission_id)
    )
    return {a: as_utc(t) for a, t in rows}


def escalations(
    session: Session,
    *,
    admission_id: str | None = None,
    ward_id: str | None = None,
    status: str | None = None,
    active: bool = False,
    raised_since: datetime | None = None,
) -> list[Escalation]:
    """Escalations matching every filter given (``active``: open or acknowledged), oldest first."""
    query = select(_x)
    if raised_since is not None:
        query = query.where(_x.c.raised_at >= raised_since)
    if admission_id is not None:
        query = query.where(_x.c.admission_id == admission_id)
    if ward_id is not None:
        query = query.where(_x.c.ward_id == ward_id)
    if status is not None:
        query = query.where(_x.c.status == status)
    if active:
        query = query.where(_x.c.status != "closed")
    return [_escalation(r) for r in session.execute(query.order_by(_x.c.raised_at)).mappings()]


def get_escalation(session: Session, escalation_id: str) -> Escalation:
    row = session.execute(select(_x).where(_x.c.id == escalation_id)).mappings().first()
    if row is None:
        raise WardError.one(404, IssueCode.NOT_FOUND, "escalation", "no such escalation")
    return _escalation(row)


def escalation_events(session: Session, escalation_id: str) -> list[dict[str, Any]]:
    e = tables.escalation_event
    rows = session.execute(
        select(e).where(e.c.escalation_id == escalation_id).order_by(e.c.id)
    ).mappings()
    return [{**r, "at": as_utc(r["at"])} for r in rows]


def overdue_readings(admission: Admission, last: datetime | None, now: datetime) -> int:
    """How many scheduled sets of readings are missed (0 when on time)."""
    interval = timedelta(days=1) / admission.readings_per_day
    late = now - (last or admission.admitted_at) - GRACE
    return int(late / interval) if late > interval else 0


def _event(
    session: Session, escalation_id: str, at: datetime, event: str, by: str, note: str | None
) -> None:
    session.execute(
        insert(tables.escalation_event),
        {"escalation_id": escalation_id, "at": at, "event": event, "by": by, "note": note},
    )


_ADMISSION_TIMES: Final = ("admitted_at", "discharged_at")
_ESCALATION_TIMES: Final = ("raised_at", "observed_at", "due_at", "acknowledged_at", "closed_at")


def _admission(row: Any) -> Admission:
    values = {k: v for k, v in dict(row).items() if k != "link_hash"}
    for name in _ADMISSION_TIMES:
        if values[name] is not None:
            values[name] = as_utc(values[name])
    return Admission(**values)


def _escalation(row: Any) -> Escalation:
    values = dict(row)
    for name in _ESCALATION_TIMES:
        if values[name] is not None:
            values[name] = as_utc(values[name])
    return Escalation(**values)
