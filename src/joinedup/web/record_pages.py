"""The single patient view: find a person, see their joined-up record; signing in; break-glass.

Every page here reads person-level data through :class:`joinedup.api.guard.Guard`, so each
view is checked against the access policy and audited, exactly as the FHIR API is. Pages
authenticate with the ``joinedup_session`` cookie, which holds the same bearer token the
API takes (HttpOnly, SameSite=Strict, so other sites can't make the browser post forms).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup.access.deps import SESSION_COOKIE, CurrentUser
from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.access.model import AccessDenied
from joinedup.access.store import open_break_glass, record_objection, withdraw_objection
from joinedup.api.deps import SessionDep
from joinedup.api.fhir import MAX_PATIENT_MATCHES
from joinedup.api.guard import Guard, PersonAccess, people_visible
from joinedup.records.person import Fact, age_on, is_social_care, join
from joinedup.records.query import SearchError, find_people
from joinedup.virtual_wards.store import CARE_SETTING_SYSTEM
from joinedup.web.pages import templates

router = APIRouter(include_in_schema=False)

ROLE_NAMES = {
    "gp": "GP",
    "hospital_clinician": "Hospital clinician",
    "community_nurse": "Community nurse",
    "mental_health_practitioner": "Mental health practitioner",
    "social_worker": "Social worker",
    "care_coordinator": "Care coordinator",
    "paramedic": "Paramedic",
    "voluntary_sector_worker": "Voluntary sector worker",
    "analyst": "Analyst",
    "privacy_officer": "Privacy officer",
    "administrator": "Administrator",
}


def format_nhs_number(value: str | None) -> str:
    """An NHS number as people read it: 3-3-4 digits (``943 476 5919``)."""
    if not value or len(value) != 10:
        return value or "Not known"
    return f"{value[:3]} {value[3:6]} {value[6:]}"


def format_date(value: str | None) -> str:
    """A FHIR date or dateTime as ``5 March 2024`` (NHS.UK style); partial dates as given."""
    if not value:
        return ""
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return value
    return f"{day.day} {day:%B %Y}"


# --- signing in (the development identity provider) ------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """Choose a demo user (only when the development identity provider is on)."""
    settings = request.app.state.settings
    if not settings.dev_idp:
        return templates.TemplateResponse(
            request, "login.html", {"users": [], "dev_idp": False}, status_code=404
        )
    users = DevIdentityProvider(settings).demo_users()
    return templates.TemplateResponse(
        request, "login.html", {"users": users, "dev_idp": True, "role_names": ROLE_NAMES}
    )


@router.post("/login")
def login(request: Request, username: Annotated[str, Form()]) -> Response:
    """Sign in as a demo user: the session cookie holds a token the dev provider issued."""
    settings = request.app.state.settings
    if not settings.dev_idp:
        return RedirectResponse("/login", status_code=303)
    provider = DevIdentityProvider(settings)
    if username not in {u.subject for u in provider.demo_users()}:
        return RedirectResponse("/login", status_code=303)
    response = RedirectResponse("/record", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, provider.issue(username), httponly=True, samesite="strict", max_age=3600
    )
    return response


@router.post("/logout")
def logout() -> Response:
    """Sign out: forget the session cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def refused_page(request: Request, error: AccessDenied) -> Response:
    """A page's answer to a refusal: sign in again (401), or why not (403)."""
    if error.status == 401:
        return RedirectResponse("/login", status_code=303)
    return templates.TemplateResponse(
        request, "refused.html", {"reason": error.reason}, status_code=error.status
    )


# --- finding a person --------------------------------------------------------------------------


@router.get("/record", response_class=HTMLResponse)
def find_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    nhs_number: str = "",
    family: str = "",
    birth_date: str = "",
) -> Response:
    """Search by NHS number, or by family name and date of birth."""
    guard = Guard.for_request(request, session, user)
    context: dict[str, Any] = {
        "user": user,
        "role_name": ROLE_NAMES.get(user.role, user.role),
        "form": {"nhs_number": nhs_number, "family": family, "birth_date": birth_date},
        "searched": False,
    }
    criteria: dict[str, list[str]] = {}
    digits = nhs_number.replace(" ", "").replace("-", "")
    if digits:
        if not (digits.isdigit() and len(digits) == 10):
            context["error"] = "Enter a 10-digit NHS number"
        else:
            criteria["identifier"] = [digits]
    elif family or birth_date:
        if not (family and birth_date):
            context["error"] = "Enter both a family name and a date of birth"
        else:
            criteria = {"family": [family], "birthdate": [birth_date]}
    if criteria and "error" not in context:
        guard.require("record.search", "Patient search")
        try:
            keys = find_people(session, criteria, limit=MAX_PATIENT_MATCHES + 1)
            if len(keys) > MAX_PATIENT_MATCHES:
                raise SearchError("search", "too many people match: add more details")
        except SearchError as error:
            context["error"] = f"Check the {error.parameter}: {error.problem}"
            keys = []
        allowed = people_visible(guard, keys, "record.search", "Patient search")
        context["searched"] = True
        context["people"] = [_summary(a) for a in allowed]
        # Someone is there, but not someone this user may see: offer break-glass, naming no one.
        context["hidden"] = [k for k in keys if k not in {a.person_key for a in allowed}]
        context["may_break_glass"] = guard.policy.allows(user.role, "break_glass")
    return templates.TemplateResponse(request, "record_find.html", context)


def _summary(access: PersonAccess) -> dict[str, Any]:
    record = join(access.person_key, access.sources, [])
    patient = record.patient
    return {
        "key": access.person_key,
        **banner(patient, access),
    }


# --- the record ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One part of the record on the page."""

    id: str
    title: str
    facts: list[Fact]
    empty: str


def is_virtual_ward_stay(resource: dict[str, Any]) -> bool:
    """Whether a resource is a stay on a virtual ward (its EpisodeOfCare's care setting)."""
    return resource.get("resourceType") == "EpisodeOfCare" and any(
        c.get("system") == CARE_SETTING_SYSTEM and c.get("code") == "virtual-ward"
        for t in resource.get("type") or []
        for c in t.get("coding") or []
    )


@router.get("/record/{person_key}", response_class=HTMLResponse)
def record_page(
    request: Request, person_key: str, session: SessionDep, user: CurrentUser
) -> Response:
    """The single patient view: everything the user may see of the person, joined up."""
    guard = Guard.for_request(request, session, user)
    guard.require("record.read", f"record page {person_key}")
    access = guard.person(person_key, "record.read", f"record page {person_key}", whole_record=True)
    if access is None:
        return templates.TemplateResponse(
            request, "refused.html", {"reason": "There is no such record."}, status_code=404
        )
    record = join(person_key, access.sources, access.resources)
    facts = record.facts
    social = [f for items in facts.values() for f in items if is_social_care(f)]
    sections = [
        Section("alerts", "Alerts", facts.get("Flag", []), "No alerts recorded."),
        Section(
            "allergies", "Allergies", facts.get("AllergyIntolerance", []), "No allergies recorded."
        ),
        Section("problems", "Problems", facts.get("Condition", []), "No problems recorded."),
        Section(
            "medications",
            "Medications",
            facts.get("MedicationRequest", []) + facts.get("MedicationStatement", []),
            "No medications recorded.",
        ),
        Section("immunisations", "Immunisations", facts.get("Immunization", []), "None recorded."),
        Section(
            "care-team",
            "Care team and contacts",
            facts.get("CareTeam", []) + facts.get("CarePlan", []),
            "No care team recorded.",
        ),
        Section("social-care", "Social care involvement", social, "No social care recorded."),
        Section("referrals", "Referrals", facts.get("ServiceRequest", []), "No referrals."),
        Section(
            "virtual-wards",
            "Virtual wards",
            [f for f in record.timeline if is_virtual_ward_stay(f.resource)],
            "No virtual-ward stays.",
        ),
        Section(
            "results",
            "Recent results and observations",
            facts.get("Observation", [])[:15],
            "No observations recorded.",
        ),
    ]
    return templates.TemplateResponse(
        request,
        "record.html",
        {
            "user": user,
            "role_name": ROLE_NAMES.get(user.role, user.role),
            "banner": banner(record.patient, access),
            "decision": access.decision,
            "sections": sections,
            "timeline": record.timeline[:50],
            "format_date": format_date,
            "partners": sorted({s.partner for s in access.sources}),
            "objection": access.relationship.objection,
            "banner_key": person_key,
            "may_record_objection": guard.policy.allows(user.role, "objection.record"),
        },
    )


@router.post("/record/{person_key}/objection")
def objection(
    request: Request,
    person_key: str,
    session: SessionDep,
    user: CurrentUser,
    objects: Annotated[str, Form()],
) -> Response:
    """Record (``objects=yes``) or withdraw (``no``) the person's objection to sharing.

    Needs a legitimate relationship and the ``objection.record`` action (the person's GP in
    the shipped policy). From then on, other organisations see only what they recorded.
    """
    guard = Guard.for_request(request, session, user)
    what = f"objection {objects} for {person_key}"
    guard.require("objection.record", what)
    if guard.person(person_key, "record.read", what) is None:
        return templates.TemplateResponse(
            request, "refused.html", {"reason": "There is no such record."}, status_code=404
        )
    with request.app.state.sessions.begin() as writing:
        if objects == "yes":
            record_objection(writing, person_key, user.subject, guard.now)
        else:
            withdraw_objection(writing, person_key, user.subject, guard.now)
    guard.record("objection.record", what, person_key, "success", "recorded as the person asked")
    return RedirectResponse(f"/record/{person_key}", status_code=303)


def banner(patient: dict[str, Any], access: PersonAccess) -> dict[str, Any]:
    """The banner's facts about a person, formatted: name, NHS number, birth, age, GP..."""
    name = (patient.get("name") or [{}])[0]
    nhs = next(
        (
            i["value"]
            for i in patient.get("identifier", [])
            if i.get("system") == "https://fhir.nhs.uk/Id/nhs-number"
        ),
        None,
    )
    address = (patient.get("address") or [{}])[0]
    birth = patient.get("birthDate")
    practices = sorted(access.relationship.registered_practices)
    return {
        "name": " ".join([*name.get("given", []), (name.get("family") or "").upper()]).strip()
        or "Name not known",
        "nhs_number": format_nhs_number(nhs),
        "birth_date": format_date(birth),
        "age": age_on(birth, datetime.now(UTC).date()),
        "gender": (patient.get("gender") or "not known").capitalize(),
        "address": ", ".join([*address.get("line", []), address.get("postalCode", "")]).strip(", "),
        "gp": ", ".join(practices) or "Not known",
        "deceased": format_date(patient.get("deceasedDateTime")),
    }


@router.post("/record/{person_key}/break-glass")
def break_glass(
    request: Request,
    person_key: str,
    session: SessionDep,
    user: CurrentUser,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Open access to a person without a relationship, with a reason, for a limited time."""
    guard = Guard.for_request(request, session, user)
    try:
        with request.app.state.sessions.begin() as writing:
            open_break_glass(writing, user, person_key, reason.strip(), guard.now, guard.policy)
    except AccessDenied as refused:
        guard.record(
            "break_glass", f"record page {person_key}", person_key, "refused", refused.reason
        )
        return templates.TemplateResponse(
            request, "refused.html", {"reason": refused.reason}, status_code=refused.status
        )
    # open_break_glass has audited the opening, in the same transaction.
    return RedirectResponse(f"/record/{person_key}", status_code=303)
