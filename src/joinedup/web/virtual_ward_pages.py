"""Virtual wards' pages: the ward board, a patient's stay, admitting, and the personal link
where a patient or carer sends readings from a phone without a staff account.

Staff pages are for the ward's team (``virtual_ward.care`` and the ward among the user's
services): being on the ward's team is the legitimate relationship with its patients, and
each patient shown is one audit entry (the board writes them in one transaction). The
reading page is reached only through the link given at admission (its token is kept
hashed); it names no one and shows nothing but what to send and what happens next.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from joinedup.access.deps import CurrentUser
from joinedup.access.model import AccessDenied, User
from joinedup.api.deps import SessionDep
from joinedup.api.guard import Guard
from joinedup.api.virtual_wards import CARE, WardAccess, wards_for
from joinedup.feeds.model import IssueCode
from joinedup.feeds.uk_core import NHS_NUMBER_SYSTEM
from joinedup.records.person import age_on
from joinedup.records.query import Source, find_people, sources_of
from joinedup.referrals.model import Referral
from joinedup.referrals.store import read_referral
from joinedup.virtual_wards.config import LEVEL_NAMES, Ward
from joinedup.virtual_wards.news2 import PARAMETERS
from joinedup.virtual_wards.store import (
    KIND_NAMES,
    OUTCOMES,
    Admission,
    Escalation,
    Reading,
    Score,
    WardError,
    admission_for_link,
    admissions,
    escalation_events,
    escalations,
    get_admission,
    get_escalation,
    last_readings,
    observations,
    overdue_readings,
    scores,
)
from joinedup.web import charts
from joinedup.web.pages import templates
from joinedup.web.record_pages import ROLE_NAMES, format_nhs_number
from joinedup.web.referral_pages import format_time

router = APIRouter(include_in_schema=False)

#: The audit trail's user for readings sent through a personal link.
PATIENT_LINK: Final = User("patient-link", "Patient or carer (personal link)", "public", "patient")

#: How each parameter is asked for and shown.
PARAMETER_NAMES: Final = {
    "respiratory_rate": ("Breathing rate", "breaths a minute"),
    "spo2": ("Oxygen level (SpO2)", "%"),
    "air_or_oxygen": ("Air or oxygen", ""),
    "systolic": ("Blood pressure, top number (systolic)", "mmHg"),
    "pulse": ("Pulse", "beats a minute"),
    "consciousness": ("Alertness", ""),
    "temperature": ("Temperature", "°C"),
}
CONSCIOUSNESS_NAMES: Final = {
    "A": "Alert",
    "C": "New confusion",
    "V": "Responds to voice only",
    "P": "Responds to pain only",
    "U": "Unresponsive",
}
BAND_TAGS: Final = {
    "high": ("High", "red"),
    "medium": ("Medium", "orange"),
    "low-medium": ("Low-medium", "yellow"),
    "low": ("Low", "green"),
}
LEVEL_TAGS: Final = {"emergency": "red", "urgent-response": "orange", "urgent-review": "yellow"}
#: The board's trend: this many days of scores.
TREND_DAYS: Final = 7


def error_page(request: Request, error: WardError) -> Response:
    """A ward error as a page: what went wrong, each issue where it was."""
    return templates.TemplateResponse(
        request,
        "ward_error.html",
        {"status": error.status, "issues": error.issues, "page_title": "There is a problem"},
        status_code=error.status,
    )


def _context(access: WardAccess, **values: Any) -> dict[str, Any]:
    user = access.user
    return {
        "user": user,
        "role_name": ROLE_NAMES.get(user.role, user.role),
        "format_time": format_time,
        "band_tags": BAND_TAGS,
        "level_tags": LEVEL_TAGS,
        "level_names": LEVEL_NAMES,
        "parameter_names": PARAMETER_NAMES,
        "consciousness_names": CONSCIOUSNESS_NAMES,
        "kind_names": KIND_NAMES,
        "outcomes": OUTCOMES,
        **values,
    }


@dataclass(frozen=True)
class Person:
    """What the board shows of a person: their name, NHS number and age."""

    name: str
    nhs_number: str
    age: int | None


def _people(session: Any, keys: list[str], today: date) -> dict[str, Person]:
    """Names, NHS numbers and ages, from each person's newest source records (one query)."""
    found = {}
    for key, held in sources_of(session, keys).items():
        newest = sorted(held, key=lambda s: s.updated_at, reverse=True)
        found[key] = Person(
            _name(newest) or "Name not known",
            format_nhs_number(next((s.nhs_number for s in newest if s.nhs_number), None)),
            age_on(next((s.birth_date.isoformat() for s in newest if s.birth_date), None), today),
        )
    return found


def _name(held: list[Source]) -> str:
    """The newest source's name that has a family name, as the banner writes it."""
    for s in held:
        if s.family:
            return f"{s.given or ''} {s.family.upper()}".strip()
    return ""


def sparkline(values: list[int | None], label: str) -> Markup:
    """A small NEWS2 trend (0-20), drawn inline; its label reads the values out."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    words = escape(label)
    if len(points) < 2:
        return Markup(f'<span class="nhsuk-u-visually-hidden">{words}</span>')
    width, height = 120, 28
    step = width / max(1, len(values) - 1)
    coords = " ".join(f"{i * step:.1f},{height - 2 - v / 20 * (height - 4):.1f}" for i, v in points)
    return Markup(
        f'<svg class="app-sparkline" width="{width}" height="{height}" role="img" '
        f'aria-label="{words}" viewBox="0 0 {width} {height}">'
        f'<line x1="0" x2="{width}" y1="{height - 2 - 5 / 20 * (height - 4):.1f}" '
        f'y2="{height - 2 - 5 / 20 * (height - 4):.1f}" stroke="#d8dde0" stroke-dasharray="2 2"/>'
        f'<polyline fill="none" stroke="#005eb8" stroke-width="2" points="{coords}"/></svg>'
    )


# --- the wards and the board ------------------------------------------------------------------


@router.get("/virtual-wards", response_class=HTMLResponse)
def my_wards(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """The wards the user is on the team of; straight to the board if just one."""
    access = WardAccess.for_request(request, session, user)
    mine = access.my_wards()
    if not mine:
        access.guard.record(CARE, "virtual wards", None, "refused", "not on a virtual ward's team")
        raise AccessDenied(403, "you are not on a virtual ward's team", "forbidden")
    return RedirectResponse(f"/virtual-wards/{mine[0]}", status_code=303)


@dataclass(frozen=True)
class BoardRow:
    admission: Admission
    person: Person
    latest: Score | None
    trend: Markup
    last_reading: datetime | None
    overdue: int
    escalation: Escalation | None


def board(session: Any, access: WardAccess, ward: Ward, now: datetime) -> dict[str, Any]:
    """Everything the ward board shows (every patient audited, in one transaction)."""
    current = admissions(session, ward.id)
    keys = [a.id for a in current]
    people = _people(session, [a.person_key for a in current], now.date())
    recent = scores(session, keys, since=now - timedelta(days=TREND_DAYS), with_parameters=False)
    last = last_readings(session, keys)
    open_escalations = {
        e.admission_id: e for e in escalations(session, ward_id=ward.id, active=True)
    }
    rows = []
    for a in current:
        trend = recent.get(a.id, [])
        totals = [s.total for s in trend]
        latest = trend[-1] if trend else None
        rows.append(
            BoardRow(
                a,
                people.get(a.person_key, Person("Name not known", "", None)),
                latest,
                sparkline(
                    totals[-20:],
                    "NEWS2 over the last week: "
                    + (
                        ", ".join("not scored" if t is None else str(t) for t in totals[-20:])
                        or "no scores"
                    ),
                ),
                last.get(a.id),
                overdue_readings(a, last.get(a.id), now),
                open_escalations.get(a.id),
            )
        )
    level_rank = {"emergency": 0, "urgent-response": 1, "urgent-review": 2}
    rows.sort(
        key=lambda r: (
            level_rank.get(r.escalation.level, 3) if r.escalation else 3,
            -(r.latest.total or 0) if r.latest and r.latest.total is not None else 0,
            -r.overdue,
        )
    )
    access.guard.record_many(
        CARE,
        [(f"virtual ward board {ward.id}", a.person_key) for a in current],
        "success",
        "your virtual ward",
    )
    month = now - timedelta(days=28)
    recent_discharges = admissions(session, ward.id, discharged_since=month)
    stays = [a.length_of_stay(now).total_seconds() / 86400 for a in recent_discharges]
    closed = [
        e
        for e in escalations(session, ward_id=ward.id, raised_since=month)
        if e.acknowledged_at is not None
    ]
    response_minutes = sorted(
        (e.acknowledged_at - e.raised_at).total_seconds() / 60 for e in closed if e.acknowledged_at
    )
    return {
        "rows": rows,
        "occupied": len(current),
        "beds": ward.beds,
        "occupancy": len(current) / ward.beds if ward.beds else None,
        "mean_stay": sum(stays) / len(stays) if stays else None,
        "discharged_28": len(recent_discharges),
        "avoided_28": sum(
            1 for a in recent_discharges if a.kind == "step-up" and a.outcome == "recovered-at-home"
        ),
        "step_up_28": sum(1 for a in recent_discharges if a.kind == "step-up"),
        "median_response": response_minutes[len(response_minutes) // 2]
        if response_minutes
        else None,
        "escalations_28": len(closed),
        "open_escalations": sum(1 for r in rows if r.escalation),
        "overdue_patients": sum(1 for r in rows if r.overdue),
    }


@router.get("/virtual-wards/{ward_id}", response_class=HTMLResponse)
def ward_board(request: Request, ward_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """The ward board: each patient's latest NEWS2 and trend, missed readings, open
    escalations (most urgent first); capacity, occupancy, length of stay."""
    access = WardAccess.for_request(request, session, user)
    access.require(ward_id, f"virtual ward board {ward_id}")
    ward = access.wards.ward(ward_id)
    now = datetime.now(UTC)
    return templates.TemplateResponse(
        request,
        "ward_board.html",
        _context(
            access, ward=ward, now=now, page_title=ward.name, **board(session, access, ward, now)
        ),
    )


# --- admitting -------------------------------------------------------------------------------


@router.get("/virtual-wards/{ward_id}/admit", response_class=HTMLResponse)
def admit_form(
    request: Request, ward_id: str, session: SessionDep, user: CurrentUser, referral: str = ""
) -> Response:
    """The admission form; from a referral to the ward (``?referral=``), for its person."""
    access = WardAccess.for_request(request, session, user)
    access.require(ward_id, f"virtual ward admit {ward_id}")
    ward = access.wards.ward(ward_id)
    form: dict[str, str] = {}
    if referral:
        referred = _referral_to(session, referral, ward_id)
        form = {"referral_id": referred.id, "kind": "step-up", "care_plan": referred.summary}
    return _admit_page(request, access, ward, form, {})


def _admit_page(
    request: Request,
    access: WardAccess,
    ward: Ward,
    form: dict[str, str],
    errors: dict[str, str],
) -> Response:
    """The admission form, with what to fix (422) if ``errors``."""
    return templates.TemplateResponse(
        request,
        "ward_admit.html",
        _context(
            access,
            ward=ward,
            form=form,
            errors=errors,
            page_title=("Error: " if errors else "") + f"Admit to {ward.name}",
        ),
        status_code=422 if errors else 200,
    )


def _referral_to(session: Any, referral_id: str, ward_id: str) -> Referral:
    """An open referral routed to this ward (404 otherwise)."""
    found = read_referral(session, referral_id)
    if found is None or found.owner != ward_id or not found.open:
        raise WardError.one(
            404, IssueCode.NOT_FOUND, "referral", "no open referral to this ward has this id"
        )
    return found


@router.post("/virtual-wards/{ward_id}/admit")
def admit(
    request: Request,
    ward_id: str,
    session: SessionDep,
    user: CurrentUser,
    nhs_number: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    care_plan: Annotated[str, Form()] = "",
    spo2_scale: Annotated[str, Form()] = "1",
    referral_id: Annotated[str, Form()] = "",
) -> Response:
    """Admit a person found by NHS number and date of birth, or the person of a referral to
    the ward; the stay's page, with the personal reading link shown this once."""
    access = WardAccess.for_request(request, session, user)
    access.require(ward_id, f"virtual ward admit {ward_id}")
    ward = access.wards.ward(ward_id)
    form = {
        "nhs_number": nhs_number,
        "birth_date": birth_date,
        "kind": kind,
        "care_plan": care_plan,
        "spo2_scale": spo2_scale,
        "referral_id": referral_id,
    }
    errors: dict[str, str] = {}
    digits = re.sub(r"[\s-]", "", nhs_number)
    try:
        born = date.fromisoformat(birth_date.strip())
    except ValueError:
        errors["birth_date"] = "Enter the date of birth as year-month-day, for example 1938-05-14"
    if not (digits.isdigit() and len(digits) == 10):
        errors["nhs_number"] = "Enter a 10-digit NHS number"
    person_key = None
    if referral_id:  # from a referral to the ward: its person, already identified
        errors = {}
        person_key = _referral_to(session, referral_id, ward_id).person_key
    elif not errors:
        found = find_people(
            session,
            {"identifier": [f"{NHS_NUMBER_SYSTEM}|{digits}"], "birthdate": [born.isoformat()]},
            limit=2,
        )
        if len(found) != 1:
            errors["nhs_number"] = (
                "No one in the person index has this NHS number and date of birth"
            )
        else:
            person_key = found[0]
    if person_key is None:
        return _admit_page(request, access, ward, form, errors)
    session.rollback()
    now = datetime.now(UTC)
    try:
        with access.guard.sessions.begin() as writing:
            admission, token = access.wards.admit(
                writing,
                ward_id,
                person_key,
                kind=kind,
                care_plan=care_plan,
                by=user.name,
                now=now,
                spo2_scale=2 if spo2_scale == "2" else 1,
                referral_id=referral_id or None,
            )
    except WardError as error:
        access.guard.record(CARE, f"virtual ward admit {ward_id}", person_key, "error", str(error))
        if error.status == 422:
            return _admit_page(
                request, access, ward, form, {i.location: i.diagnostics for i in error.issues}
            )
        raise
    access.record(f"admitted {admission.id} to {ward_id}", person_key, "admitted")
    return _stay_page(
        request,
        session,
        access,
        admission.id,
        link=str(request.base_url).rstrip("/") + f"/readings/{token}",
    )


# --- a patient's stay ------------------------------------------------------------------------


def _stay_page(
    request: Request,
    session: Any,
    access: WardAccess,
    admission_id: str,
    *,
    link: str | None = None,
) -> Response:
    admission = get_admission(session, admission_id)
    access.require(admission.ward_id, f"virtual ward stay {admission_id}", admission.person_key)
    ward = access.wards.ward(admission.ward_id)
    now = datetime.now(UTC)
    person = _people(session, [admission.person_key], now.date()).get(
        admission.person_key, Person("Name not known", "", None)
    )
    access.record(f"virtual ward stay {admission_id}", admission.person_key, "your virtual ward")
    history = scores(session, [admission.id])[admission.id]
    readings = observations(session, admission.id, limit=60)
    escalated = list(reversed(escalations(session, admission_id=admission.id)))
    return templates.TemplateResponse(
        request,
        "ward_stay.html",
        _context(
            access,
            ward=ward,
            admission=admission,
            person=person,
            now=now,
            link=link,
            chart=_trend_chart(history[-30:], person.name),
            latest=history[-1] if history else None,
            readings=readings,
            escalations=escalated,
            events={e.id: escalation_events(session, e.id) for e in escalated},
            overdue=overdue_readings(
                admission, readings[0]["effective_at"] if readings else None, now
            ),
            page_title=f"{person.name}, {ward.name}",
        ),
    )


def _trend_chart(history: list[Score], name: str) -> Markup | None:
    if len(history) < 2:
        return None
    labels = [f"{s.effective_at.astimezone(UTC):%d %b %H:%M}" for s in history]
    return charts.line_chart(
        labels,
        [charts.Series("NEWS2 total", [s.total for s in history])],
        title=f"NEWS2 over the stay, {name}",
        value_label="NEWS2 total (0-20)",
        description="Each scored set of readings; a gap is a set with a parameter missing (no total).",
        height=260,
    )


@router.get("/virtual-wards/stays/{admission_id}", response_class=HTMLResponse)
def stay_page(
    request: Request, admission_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    """A patient's stay: NEWS2 trend, readings, escalations, and what the team may do."""
    return _stay_page(
        request, session, WardAccess.for_request(request, session, user), admission_id
    )


def _readings_from_form(
    form: dict[str, str], prefix: str, at: datetime
) -> tuple[list[Reading], dict[str, str]]:
    """Readings typed into a form (blank fields are readings not taken)."""
    readings: list[Reading] = []
    errors: dict[str, str] = {}
    for parameter in PARAMETERS:
        raw = (form.get(parameter) or "").strip()
        if not raw:
            continue
        key = f"{prefix}/{parameter}"
        if parameter == "consciousness":
            readings.append(Reading(parameter, at, key, code=raw))
            continue
        if parameter == "air_or_oxygen":
            readings.append(Reading(parameter, at, key, value=1.0 if raw == "oxygen" else 0.0))
            continue
        try:
            readings.append(Reading(parameter, at, key, value=float(raw)))
        except ValueError:
            errors[parameter] = f"Enter {PARAMETER_NAMES[parameter][0].lower()} as a number"
    return readings, errors


@router.post("/virtual-wards/stays/{admission_id}/readings")
async def staff_readings(
    request: Request, admission_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    """Readings entered by staff (a visit, a phone call)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    access = WardAccess.for_request(request, session, user)
    admission = get_admission(session, admission_id)
    access.require(admission.ward_id, f"virtual ward readings {admission_id}", admission.person_key)
    now = datetime.now(UTC)
    readings, errors = _readings_from_form(form, f"staff/{admission_id}/{now.isoformat()}", now)
    if errors or not readings:
        raise WardError.one(
            422,
            IssueCode.VALUE,
            "readings",
            "; ".join(errors.values()) or "enter at least one reading",
        )
    session.rollback()
    with access.guard.sessions.begin() as writing:
        access.wards.take_readings(
            writing, admission, readings, source="staff", by=user.name, now=now
        )
    access.record(f"readings for {admission_id}", admission.person_key, "readings entered by staff")
    return RedirectResponse(f"/virtual-wards/stays/{admission_id}", status_code=303)


@router.post("/virtual-wards/escalations/{escalation_id}/{step}")
def escalation_step(
    request: Request,
    escalation_id: str,
    step: str,
    session: SessionDep,
    user: CurrentUser,
    version: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "",
) -> Response:
    """Acknowledge an escalation, or record what was done and close it."""
    access = WardAccess.for_request(request, session, user)
    escalation = get_escalation(session, escalation_id)
    admission = get_admission(session, escalation.admission_id)
    what = f"escalation {escalation_id} {step}"
    access.require(escalation.ward_id, what, admission.person_key)
    if step not in ("acknowledge", "act") or not version.isdigit():
        raise WardError.one(
            400, IssueCode.VALUE, "step", "acknowledge or act, with the version read"
        )
    session.rollback()
    now = datetime.now(UTC)
    with access.guard.sessions.begin() as writing:
        if step == "acknowledge":
            access.wards.acknowledge(
                writing, escalation_id, by=user.name, now=now, expected_version=int(version)
            )
        else:
            access.wards.act(
                writing,
                escalation_id,
                action=action,
                by=user.name,
                now=now,
                expected_version=int(version),
            )
    access.record(
        what,
        admission.person_key,
        "escalation " + ("acknowledged" if step == "acknowledge" else "acted on"),
    )
    return RedirectResponse(f"/virtual-wards/stays/{admission.id}", status_code=303)


@router.post("/virtual-wards/stays/{admission_id}/discharge")
def discharge(
    request: Request,
    admission_id: str,
    session: SessionDep,
    user: CurrentUser,
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
) -> Response:
    access = WardAccess.for_request(request, session, user)
    admission = get_admission(session, admission_id)
    access.require(
        admission.ward_id, f"virtual ward discharge {admission_id}", admission.person_key
    )
    session.rollback()
    with access.guard.sessions.begin() as writing:
        access.wards.discharge(
            writing,
            admission_id,
            outcome=outcome,
            note=note,
            by=user.name,
            now=datetime.now(UTC),
            expected_version=int(version) if version.isdigit() else None,
        )
    access.record(f"discharged {admission_id}", admission.person_key, f"discharged: {outcome}")
    return RedirectResponse(f"/virtual-wards/{admission.ward_id}", status_code=303)


@router.post("/virtual-wards/stays/{admission_id}/link")
def new_link(
    request: Request, admission_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    """A new personal reading link (the old one stops working), shown this once."""
    access = WardAccess.for_request(request, session, user)
    admission = get_admission(session, admission_id)
    access.require(admission.ward_id, f"virtual ward link {admission_id}", admission.person_key)
    session.rollback()
    with access.guard.sessions.begin() as writing:
        token = access.wards.new_link(writing, admission_id)
    access.record(
        f"new reading link for {admission_id}", admission.person_key, "personal link issued"
    )
    return _stay_page(
        request,
        session,
        access,
        admission_id,
        link=str(request.base_url).rstrip("/") + f"/readings/{token}",
    )


# --- the personal reading link ---------------------------------------------------------------


def _link_admission(request: Request, session: Any, token: str) -> tuple[Admission, Ward]:
    admission = admission_for_link(session, token)
    if admission is None:
        raise WardError.one(
            404,
            IssueCode.NOT_FOUND,
            "link",
            "this link does not work any more: ask the virtual ward team for a new one",
        )
    return admission, wards_for(request, session).ward(admission.ward_id)


@router.get("/readings/{token}", response_class=HTMLResponse)
def readings_form(request: Request, token: str, session: SessionDep) -> Response:
    """The patient's reading page: the readings their ward asks for, nothing else."""
    _, ward = _link_admission(request, session, token)
    return templates.TemplateResponse(
        request,
        "ward_readings.html",
        {
            "ward": ward,
            "asked": [p for p in PARAMETERS if p in ward.observations],
            "parameter_names": PARAMETER_NAMES,
            "consciousness_names": CONSCIOUSNESS_NAMES,
            "form": {"submission": uuid.uuid4().hex},
            "errors": {},
            "token": token,
            "page_title": "Send your readings",
        },
    )


@router.post("/readings/{token}")
async def send_readings(request: Request, token: str, session: SessionDep) -> Response:
    """Readings from the patient or carer: checked, stored, scored; what happens next."""
    admission, ward = _link_admission(request, session, token)
    form = {k: str(v) for k, v in (await request.form()).items()}
    submission = form.get("submission") or ""
    now = datetime.now(UTC)
    asked = [p for p in PARAMETERS if p in ward.observations]
    readings, errors = _readings_from_form(
        {p: form.get(p, "") for p in asked},
        f"link/{admission.id}/{submission or now.isoformat()}",
        now,
    )
    for p in asked:
        if not form.get(p, "").strip() and p not in errors:
            errors[p] = f"Enter your {PARAMETER_NAMES[p][0].lower()}"
    taken = None
    if not errors:
        session.rollback()
        try:
            with session.begin():
                taken = wards_for(request, session).take_readings(
                    session, admission, readings, source="patient", by="personal link", now=now
                )
        except WardError as error:
            errors = {i.location.rsplit(".", 1)[-1]: _plain(i.diagnostics) for i in error.issues}
    if errors:
        return templates.TemplateResponse(
            request,
            "ward_readings.html",
            {
                "ward": ward,
                "asked": asked,
                "parameter_names": PARAMETER_NAMES,
                "consciousness_names": CONSCIOUSNESS_NAMES,
                "form": form,
                "errors": errors,
                "token": token,
                "page_title": "Error: Send your readings",
            },
            status_code=422,
        )
    guard = Guard.for_request(request, session, PATIENT_LINK)
    guard.record(
        CARE,
        f"readings via personal link for {admission.id}",
        admission.person_key,
        "success",
        "readings sent",
    )
    level = taken.escalation.level if taken and taken.escalation else None
    return templates.TemplateResponse(
        request,
        "ward_readings_sent.html",
        {"level": level, "ward": ward, "page_title": "Readings sent", "token": token},
    )


def _plain(diagnostics: str) -> str:
    """A refusal in words for the patient (the range, without the parameter's code name)."""
    _, _, rest = diagnostics.partition(" is not plausible: ")
    return f"Check this reading: we expected {rest}" if rest else diagnostics
