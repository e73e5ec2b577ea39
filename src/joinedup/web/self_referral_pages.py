"""Self-referral: the public form (no staff account) and the coordination centre's pages for
self-referrals the person index could not place.

The public form offers only the needs a service takes self-referrals for at a routine pace
(:func:`joinedup.referrals.self_referral.self_referral_needs`) and sends urgent help to 111
and 999. Whatever happens to a submission, the person sees the same page: a reference and
what happens next, so the form never says whether the NHS knows someone. Each submission is
audited (as the member of the public, against the person when they are known).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup.access.deps import CurrentUser
from joinedup.access.model import AccessDenied, User
from joinedup.api.deps import SessionDep
from joinedup.api.guard import Guard
from joinedup.api.referrals import COORDINATE, CREATE, ReferralAccess, actor_of, centre_for
from joinedup.feeds.model import Issue, IssueCode
from joinedup.referrals.model import ReferralError
from joinedup.referrals.self_referral import (
    SELF_PARTNER,
    TO_IDENTIFY,
    SelfReferral,
    close,
    identify,
    read_held,
    self_referral_needs,
    submit,
)
from joinedup.web.pages import form_errors, templates
from joinedup.web.referral_pages import error_page, format_time, referral_context

router = APIRouter(include_in_schema=False)

#: Who the audit trail names for a submission from the public form.
PUBLIC: Final = User("public", "Member of the public (self-referral form)", "public", SELF_PARTNER)

#: The public form's fields, in the order they appear (error summary links go to these).
FIELDS: Final = (
    "given",
    "family",
    "birth_date",
    "postcode",
    "nhs_number",
    "phone",
    "need",
    "summary",
    "consent",
)
_POSTCODE: Final = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
_PHONE: Final = re.compile(r"^\+?[0-9 ]{10,15}$")


def _form_page(
    request: Request,
    needs: dict[str, str],
    form: dict[str, str],
    issues: list[Issue] | None = None,
    status_code: int = 200,
) -> Response:
    errors, summary = form_errors(issues or [], FIELDS)
    return templates.TemplateResponse(
        request,
        "self_referral.html",
        {"form": form, "needs": needs, "errors": errors, "error_summary": summary},
        status_code=status_code,
    )


@router.get("/self-referral", response_class=HTMLResponse)
def self_referral_form(request: Request, session: SessionDep) -> Response:
    """The public self-referral form."""
    needs = self_referral_needs(centre_for(request, session))
    return _form_page(request, needs, dict.fromkeys(FIELDS, ""))


def _read_form(
    form: dict[str, str], needs: dict[str, str]
) -> tuple[SelfReferral | None, list[Issue]]:
    """The submission, or what to fix (in the form's order)."""
    issues: list[Issue] = []
    for name, words in (("given", "first name"), ("family", "last name")):
        if not form[name].strip():
            issues.append(Issue(IssueCode.REQUIRED, name, f"Enter your {words}"))
    born: date | None = None
    try:
        born = date(int(form["birth_year"]), int(form["birth_month"]), int(form["birth_day"]))
    except ValueError:
        issues.append(
            Issue(
                IssueCode.VALUE,
                "birth_date",
                "Enter your date of birth as a real date, for example 27 3 1948",
            )
        )
    else:
        if born > datetime.now(UTC).date() or born.year < 1880:
            issues.append(Issue(IssueCode.VALUE, "birth_date", "Date of birth must be in the past"))
    postcode = re.sub(r"\s+", " ", form["postcode"].strip().upper())
    if not _POSTCODE.match(postcode):
        issues.append(Issue(IssueCode.VALUE, "postcode", "Enter a real postcode, like TR1 3LQ"))
    nhs = re.sub(r"[\s-]", "", form["nhs_number"])
    if nhs and not (nhs.isdigit() and len(nhs) == 10):
        issues.append(
            Issue(IssueCode.VALUE, "nhs_number", "NHS number must be 10 digits, or leave it out")
        )
    phone = form["phone"].strip()
    if not _PHONE.match(phone):
        issues.append(
            Issue(IssueCode.VALUE, "phone", "Enter a telephone number, like 01872 250000")
        )
    if form["need"] not in needs:
        issues.append(Issue(IssueCode.REQUIRED, "need", "Select what you need help with"))
    if len(form["summary"].strip()) < 10:
        issues.append(
            Issue(
                IssueCode.REQUIRED,
                "summary",
                "Tell us what help you need (at least 10 characters)",
            )
        )
    if form["consent"] != "yes":
        issues.append(
            Issue(
                IssueCode.REQUIRED,
                "consent",
                "Confirm that the team may read your health and care record to help you",
            )
        )
    if issues or born is None:
        return None, issues
    return (
        SelfReferral(
            given=form["given"].strip(),
            family=form["family"].strip(),
            birth_date=born,
            postcode=postcode,
            phone=phone,
            need=form["need"],
            summary=form["summary"].strip(),
            nhs_number=nhs or None,
        ),
        [],
    )


@router.post("/self-referral")
def send_self_referral(
    request: Request,
    session: SessionDep,
    given: Annotated[str, Form()] = "",
    family: Annotated[str, Form()] = "",
    birth_day: Annotated[str, Form()] = "",
    birth_month: Annotated[str, Form()] = "",
    birth_year: Annotated[str, Form()] = "",
    postcode: Annotated[str, Form()] = "",
    nhs_number: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    need: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
    consent: Annotated[str, Form()] = "",
) -> Response:
    """Take a self-referral; the same answer whether or not the person is known."""
    centre = centre_for(request, session)
    needs = self_referral_needs(centre)
    form = {
        "given": given,
        "family": family,
        "birth_day": birth_day,
        "birth_month": birth_month,
        "birth_year": birth_year,
        "postcode": postcode,
        "nhs_number": nhs_number,
        "phone": phone,
        "need": need,
        "summary": summary,
        "consent": consent,
    }
    sent, issues = _read_form(form, needs)
    if sent is None:
        return _form_page(request, needs, form, issues, status_code=422)
    guard = Guard.for_request(request, session, PUBLIC)
    session.rollback()  # submit() writes in a transaction of its own
    with guard.sessions.begin() as writing:
        held, referral = submit(centre, writing, sent, datetime.now(UTC))
    guard.record(
        CREATE,
        f"self-referral {held.id}" + (f" as Task/{referral.id}" if referral else ""),
        referral.person_key if referral else None,
        "success",
        "self-referral taken" if referral else "self-referral held to identify",
    )
    return templates.TemplateResponse(
        request,
        "self_referral_sent.html",
        {"reference": held.id, "need": needs[sent.need], "page_title": "Referral sent"},
    )


# --- the coordination centre ------------------------------------------------------------------


def _coordinator(request: Request, session: Any, user: User, what: str) -> ReferralAccess:
    access = ReferralAccess.for_request(request, session, user)
    if not access.allows(COORDINATE):
        access.guard.record(COORDINATE, what, None, "refused", "not the coordination centre")
        raise AccessDenied(403, "only the coordination centre does this", "forbidden")
    return access


@router.get("/referrals/self/{hold_id}", response_class=HTMLResponse)
def held_page(request: Request, hold_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """A self-referral the person index could not place: what the person sent, and the
    forms to identify them (and take the referral) or to close it."""
    what = f"self-referral {hold_id} (page)"
    access = _coordinator(request, session, user, what)
    held = read_held(session, hold_id)
    access.guard.record(COORDINATE, what, None, "success", "the coordination centre")
    return templates.TemplateResponse(
        request,
        "self_referral_held.html",
        referral_context(access, held=held, open=held.status == TO_IDENTIFY, received=format_time),
    )


@router.post("/referrals/self/{hold_id}/identify")
def identify_held(
    request: Request,
    hold_id: str,
    session: SessionDep,
    user: CurrentUser,
    nhs_number: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
) -> Response:
    """Take a held self-referral for the person the coordinator identified."""
    what = f"self-referral {hold_id} identify"
    access = _coordinator(request, session, user, what)
    digits = re.sub(r"[\s-]", "", nhs_number)
    try:
        born = date.fromisoformat(birth_date.strip())
    except ValueError:
        return error_page(
            request,
            ReferralError.one(
                400, IssueCode.VALUE, "birth_date", "Enter the date of birth as year-month-day"
            ),
        )
    session.rollback()
    try:
        with access.guard.sessions.begin() as writing:
            referral = identify(
                access.centre, writing, hold_id, digits, born, actor_of(user), datetime.now(UTC)
            )
    except ReferralError as error:
        access.guard.record(COORDINATE, what, None, "error", str(error))
        return error_page(request, error)
    access.guard.record(
        COORDINATE, f"{what} as Task/{referral.id}", referral.person_key, "success", "identified"
    )
    return RedirectResponse(f"/referrals/{referral.id}", status_code=303)


@router.post("/referrals/self/{hold_id}/close")
def close_held(
    request: Request,
    hold_id: str,
    session: SessionDep,
    user: CurrentUser,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Close a held self-referral, with a reason."""
    what = f"self-referral {hold_id} close"
    access = _coordinator(request, session, user, what)
    session.rollback()
    try:
        with access.guard.sessions.begin() as writing:
            close(writing, hold_id, reason, actor_of(user), datetime.now(UTC))
    except ReferralError as error:
        return error_page(request, error)
    access.guard.record(COORDINATE, what, None, "success", "closed")
    return RedirectResponse("/referrals", status_code=303)
