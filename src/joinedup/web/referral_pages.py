"""The single point of access's pages: refer a person, the coordination centre's worklist, a
referral's detail with what may be done to it, and a receiving team's queue.

Every referral shown is read through :class:`joinedup.api.referrals.ReferralAccess`, so
each view and each step is checked against the access policy and audited, as the FHIR API
is. Forms carry the referral's ``version``: a step on a referral someone else changed since
the page was read is refused (412) and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup.access.deps import CurrentUser
from joinedup.access.model import AccessDenied, User
from joinedup.api.deps import SessionDep
from joinedup.api.referrals import COORDINATE, STATUS, TEAM, ReferralAccess
from joinedup.api.virtual_wards import WardAccess
from joinedup.directory.profiles import DISPOSITIONS, NEEDS, REFERRER_FOR_ROLE
from joinedup.feeds.model import Issue, IssueCode, PersonDetails
from joinedup.records.person import join
from joinedup.referrals.model import CENTRE, TRANSITIONS, Action, Referral, ReferralError, Status
from joinedup.referrals.router import CAPACITY_STATUSES, LOCAL
from joinedup.referrals.self_referral import list_held
from joinedup.referrals.store import FEED as REFERRALS_FEED
from joinedup.referrals.store import (
    Actor,
    NewReferral,
    get_referral,
    history,
    list_referrals,
    service_statuses,
    set_service_status,
)
from joinedup.web.pages import form_errors, templates
from joinedup.web.record_pages import ROLE_NAMES, banner

router = APIRouter(include_in_schema=False)

#: The referral form's fields, in the order they appear (error summary links go to these).
FIELDS: Final = ("nhs_number", "birth_date", "need", "urgency", "summary", "requested_service")
#: Where each part of a :class:`NewReferral` is on the form.
WHERE: Final = {
    "nhs_number": "nhs_number",
    "birth_date": "birth_date",
    "patient": "nhs_number",
    "need": "need",
    "urgency": "urgency",
    "summary": "summary",
    "requested_service": "requested_service",
    "source": "need",
    "authored": "summary",
}

#: How the first-contact clock is shown: words and the NHS.UK tag colour.
CLOCK_TAGS: Final = {
    "breached": ("Breached", "red"),
    "at-risk": ("At risk", "orange"),
    "on-track": ("On track", "green"),
    "met": ("Met", "blue"),
    "stopped": ("Stopped", "grey"),
}

STATUS_NAMES: Final = {
    Status.REQUESTED: "Requested",
    Status.RECEIVED: "Received",
    Status.ACCEPTED: "Accepted by a team",
    Status.IN_PROGRESS: "In progress",
    Status.ON_HOLD: "On hold: waiting for information",
    Status.COMPLETED: "Completed",
    Status.REJECTED: "Declined",
    Status.CANCELLED: "Cancelled",
}

#: Each action's button, and whether the redirect's service is chosen.
ACTION_LABELS: Final = {
    Action.ACCEPT: "Accept proposal",
    Action.REDIRECT: "Redirect",
    Action.ASK_INFO: "Ask for information",
    Action.INFO_RECEIVED: "Information received",
    Action.DECLINE: "Decline",
    Action.CANCEL: "Cancel referral",
    Action.START: "Record first contact",
    Action.COMPLETE: "Complete",
    Action.BOUNCE: "Return to coordination centre",
}

EVENT_NAMES: Final = {
    "received": "Referral received",
    "create": "Referral received",
    **{a.value: label for a, label in ACTION_LABELS.items()},
    Action.ACCEPT.value: "Accepted and sent to the team",
    Action.START.value: "First contact made",
    Action.COMPLETE.value: "Completed",
    Action.BOUNCE.value: "Returned to the coordination centre",
    Action.CANCEL.value: "Cancelled",
    Action.DECLINE.value: "Declined",
}

CAPACITY_NAMES: Final = {
    "green": "Green: taking referrals",
    "amber": "Amber: under pressure",
    "red": "Red: not taking referrals",
}


def format_time(value: datetime | None) -> str:
    """A time as people read it, in UK time: ``3 December 2026, 8:05am``."""
    if value is None:
        return ""
    local = value.astimezone(LOCAL)
    hour = local.hour % 12 or 12
    return f"{local.day} {local:%B %Y}, {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


def referral_context(access: ReferralAccess, **values: Any) -> dict[str, Any]:
    user = access.user
    return {
        "user": user,
        "role_name": ROLE_NAMES.get(user.role, user.role),
        "may_coordinate": access.allows(COORDINATE),
        "team_services": _team_services(access),
        "service_name": access.centre.service_name,
        "need_name": lambda code: NEEDS.get(code, code),
        "urgency_name": lambda code: DISPOSITIONS[code].words if code in DISPOSITIONS else code,
        "format_time": format_time,
        "status_name": lambda s: STATUS_NAMES.get(s, str(s)),
        **values,
    }


def _team_services(access: ReferralAccess) -> list[str]:
    if not access.allows(TEAM):
        return []
    return [s for s in access.user.services if s != CENTRE]


@dataclass(frozen=True)
class Row:
    """A referral on a list: no one's name, just the referral."""

    referral: Referral
    clock: str
    clock_words: str
    clock_colour: str


def _row(access: ReferralAccess, referral: Referral) -> Row:
    clock = access.clock(referral)
    words, colour = CLOCK_TAGS.get(clock, (clock, "grey"))
    return Row(referral, clock, words, colour)


# --- errors -----------------------------------------------------------------------------------


def error_page(request: Request, error: ReferralError) -> Response:
    """A referral error as a page: what went wrong, each issue where it was."""
    titles = {
        400: "There is a problem",
        404: "Not found",
        409: "This cannot be done now",
        412: "This referral was changed by someone else",
        422: "There is a problem with the referral",
        503: "Referrals are not available",
    }
    return templates.TemplateResponse(
        request,
        "referral_error.html",
        {
            "status": error.status,
            "title": titles.get(error.status, "There is a problem"),
            "issues": error.issues,
            "changed": error.status == 412,
            "back": request.url.path.removesuffix("/act"),
        },
        status_code=error.status,
    )


def _refuse(access: ReferralAccess, action: str, what: str, reason: str) -> AccessDenied:
    access.guard.record(action, what, None, "refused", reason)
    return AccessDenied(403, reason, "forbidden")


# --- referring -------------------------------------------------------------------------------


def _new_form(
    request: Request,
    access: ReferralAccess,
    form: dict[str, str],
    issues: list[Issue] | None = None,
    status_code: int = 200,
) -> Response:
    errors, summary = form_errors(issues or [], FIELDS)
    services = sorted(((s.id, s.name) for s in access.centre.services.values()), key=lambda s: s[1])
    return templates.TemplateResponse(
        request,
        "referral_new.html",
        referral_context(
            access,
            form=form,
            needs=NEEDS,
            dispositions=DISPOSITIONS,
            services=services,
            errors=errors,
            error_summary=summary,
        ),
        status_code=status_code,
    )


@router.get("/referrals/new", response_class=HTMLResponse)
def new_referral_page(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """The professional referral form."""
    access = ReferralAccess.for_request(request, session, user)
    access.referrer_code()
    return _new_form(request, access, dict.fromkeys(FIELDS, ""))


@router.post("/referrals/new")
def new_referral(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    nhs_number: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
    need: Annotated[str, Form()] = "",
    urgency: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
    requested_service: Annotated[str, Form()] = "",
) -> Response:
    """Take a referral from the form; back to the form, with what to fix, if it can't be."""
    access = ReferralAccess.for_request(request, session, user)
    source = access.referrer_code()
    form = {
        "nhs_number": nhs_number,
        "birth_date": birth_date,
        "need": need,
        "urgency": urgency,
        "summary": summary,
        "requested_service": requested_service,
    }
    issues: list[Issue] = []
    digits = nhs_number.replace(" ", "").replace("-", "")
    if not digits:
        issues.append(Issue(IssueCode.REQUIRED, "nhs_number", "Enter the person's NHS number"))
    elif not (digits.isdigit() and len(digits) == 10):
        issues.append(Issue(IssueCode.VALUE, "nhs_number", "Enter a 10-digit NHS number"))
    born: date | None = None
    if not birth_date.strip():
        issues.append(Issue(IssueCode.REQUIRED, "birth_date", "Enter the person's date of birth"))
    else:
        try:
            born = date.fromisoformat(birth_date.strip())
        except ValueError:
            issues.append(
                Issue(
                    IssueCode.VALUE,
                    "birth_date",
                    "Enter the date of birth as year-month-day, for example 1948-03-27",
                )
            )
    if not need:
        issues.append(Issue(IssueCode.REQUIRED, "need", "Select what the person needs"))
    if not urgency:
        issues.append(Issue(IssueCode.REQUIRED, "urgency", "Select how urgent it is"))
    if not summary.strip():
        issues.append(
            Issue(IssueCode.REQUIRED, "summary", "Enter why you are referring the person")
        )
    if issues:
        return _new_form(request, access, form, issues, status_code=422)
    new = NewReferral(
        channel="form",
        source=source,
        referrer=Actor(user.subject, user.name, user.organisation),
        need=need,
        urgency=urgency,
        summary=summary,
        patient=PersonDetails(local_id="", nhs_number=digits, birth_date=born),
        requested_service=requested_service or None,
        where=WHERE,
    )
    session.rollback()  # take() writes in a transaction of its own
    try:
        referral = access.take(new)
    except ReferralError as error:
        if error.status in (400, 404, 422):
            return _new_form(request, access, form, error.issues, status_code=error.status)
        raise
    return RedirectResponse(f"/referrals/{referral.id}", status_code=303)


# --- the worklist ----------------------------------------------------------------------------


@router.get("/referrals", response_class=HTMLResponse)
def worklist(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """The coordination centre's open referrals, most urgent first; or the user's own."""
    access = ReferralAccess.for_request(request, session, user)
    coordinating = access.allows(COORDINATE)
    if coordinating:
        found = list_referrals(session, owner=CENTRE, statuses=[Status.RECEIVED, Status.ON_HOLD])
    else:
        found = list_referrals(session, referrer_user=user.subject)
    rows = []
    for referral in found:
        access.read(referral, f"Task/{referral.id} (worklist page)")
        rows.append(_row(access, referral))
    return templates.TemplateResponse(
        request,
        "referral_list.html",
        referral_context(
            access,
            coordinating=coordinating,
            rows=rows,
            held=list_held(session) if coordinating else [],
            may_refer=user.role in REFERRER_FOR_ROLE and access.allows("referral.create"),
        ),
    )


# --- one referral ----------------------------------------------------------------------------


def _may(access: ReferralAccess, referral: Referral, action: Action) -> bool:
    starts, _, _, side = TRANSITIONS[action]
    if referral.status not in starts:
        return False
    if side == "coordinate":
        return access.allows(COORDINATE) or (
            action is Action.CANCEL and referral.referrer_user == access.user.subject
        )
    return access.allows(TEAM) and referral.owner in access.user.services


def _person_banner(access: ReferralAccess, referral: Referral) -> dict[str, Any] | None:
    """The person's banner, if the user has a relationship with them (else nothing)."""
    try:
        person = access.guard.person_if_related(
            referral.person_key, "record.read", f"referral page Task/{referral.id}"
        )
    except AccessDenied:
        return None
    if person is None:
        return None
    # A form referral's own source record holds only the NHS number and date of birth: the
    # banner comes from the partners' records of the person (when there are any).
    held = [s for s in person.sources if s.feed != REFERRALS_FEED] or list(person.sources)
    return banner(join(person.person_key, held, []).patient, person)


@router.get("/referrals/team", response_class=HTMLResponse)
def my_team(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """The queue of the user's first service."""
    access = ReferralAccess.for_request(request, session, user)
    services = _team_services(access)
    if not services:
        raise _refuse(access, TEAM, "team queue", "you do not work in a receiving team")
    return RedirectResponse(f"/referrals/team/{services[0]}", status_code=303)


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
def referral_page(
    request: Request, referral_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    """A referral: its clock, the router's proposals, its history, and what may be done."""
    access = ReferralAccess.for_request(request, session, user)
    referral = get_referral(session, referral_id, "referral")
    access.read(referral, f"Task/{referral_id} (page)")
    actions = [a for a in ACTION_LABELS if _may(access, referral, a)]
    if referral.proposed_service is None and Action.ACCEPT in actions:
        actions.remove(Action.ACCEPT)
    services = sorted(((s.id, s.name) for s in access.centre.services.values()), key=lambda s: s[1])
    proposals = sorted(
        referral.proposals,
        key=lambda p: (not p.get("eligible"), -(p.get("score") or 0)),
    )
    return templates.TemplateResponse(
        request,
        "referral_detail.html",
        referral_context(
            access,
            referral=referral,
            row=_row(access, referral),
            banner=_person_banner(access, referral),
            proposals=proposals,
            history=history(session, referral_id),
            event_name=lambda a: EVENT_NAMES.get(a, a.replace("-", " ").capitalize()),
            actions=actions,
            labels=ACTION_LABELS,
            needs_reason={a: TRANSITIONS[a][2] for a in ACTION_LABELS},
            services=services,
            Action=Action,
            may_admit=referral.open
            and referral.owner in WardAccess.for_request(request, session, user).my_wards(),
        ),
    )


@router.post("/referrals/{referral_id}/act")
def act(
    request: Request,
    referral_id: str,
    session: SessionDep,
    user: CurrentUser,
    action: Annotated[str, Form()],
    version: Annotated[str, Form()],
    service: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Do one step to a referral, as read at ``version``."""
    try:
        step = Action(action)
        expected = int(version)
    except ValueError:
        raise ReferralError.one(
            400, IssueCode.VALUE, "action", "not an action on a referral"
        ) from None
    access = ReferralAccess.for_request(request, session, user)
    access.act(
        session,
        referral_id,
        step,
        expected_version=expected,
        service=service or None,
        reason=reason or None,
    )
    return RedirectResponse(f"/referrals/{referral_id}", status_code=303)


# --- a receiving team ------------------------------------------------------------------------


def _team_access(
    request: Request, session: Any, user: User, service_id: str, action: str, what: str
) -> ReferralAccess:
    access = ReferralAccess.for_request(request, session, user)
    if service_id not in access.centre.services:
        raise ReferralError.one(404, IssueCode.NOT_FOUND, "service", "no such service")
    if not (access.allows(action) and service_id in user.services):
        raise _refuse(access, action, what, "this is not your team's service")
    return access


@router.get("/referrals/team/{service_id}", response_class=HTMLResponse)
def team_queue(
    request: Request, service_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    """A receiving team's referrals to deal with, most urgent first, and its capacity."""
    access = _team_access(request, session, user, service_id, TEAM, f"team queue {service_id}")
    found = list_referrals(
        session, owner=service_id, statuses=[Status.ACCEPTED, Status.IN_PROGRESS]
    )
    rows = []
    for referral in found:
        access.read(referral, f"Task/{referral.id} (team queue page)")
        rows.append(_row(access, referral))
    return templates.TemplateResponse(
        request,
        "referral_team.html",
        referral_context(
            access,
            service_id=service_id,
            rows=rows,
            capacity=service_statuses(session).get(service_id),
            capacity_names=CAPACITY_NAMES,
            capacity_statuses=CAPACITY_STATUSES,
            may_report=access.allows(STATUS),
        ),
    )


@router.post("/referrals/team/{service_id}/status")
def team_status(
    request: Request,
    service_id: str,
    session: SessionDep,
    user: CurrentUser,
    status: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Report the team's live capacity (green, amber or red), which routing takes into account."""
    what = f"service {service_id} capacity {status}"
    access = _team_access(request, session, user, service_id, STATUS, what)
    session.rollback()  # the write below is a transaction of its own
    with access.guard.sessions.begin() as writing:
        set_service_status(
            writing, service_id, status, note.strip()[:500], user.subject, datetime.now(UTC)
        )
    access.guard.record(STATUS, what, None, "success", "capacity status reported")
    return RedirectResponse(f"/referrals/team/{service_id}", status_code=303)
