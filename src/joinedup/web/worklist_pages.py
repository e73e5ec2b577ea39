"""From cohort to action: a cohort's worklist, and proactive referrals from it.

The worklist names people, so it goes through the shared care record's access control: only
the people of the cohort the user has a legitimate relationship with are shown, each one
audited (:meth:`joinedup.api.guard.Guard.person_if_related`); the rest stay counts.

A user who refers (a GP, a community nurse, a care coordinator...) may pick people on the
worklist and send them to the single point of access in one step: one referral each, with
the same need, urgency and reason, all taken or none (one transaction), each marked with the
cohort it came from (channel ``proactive``). The people picked are checked again on the way
in: only people still on the user's worklist can be referred from it. People who already
have an open referral for the same need are left out, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from joinedup.access.deps import CurrentUser
from joinedup.access.model import AccessDenied
from joinedup.api.deps import SessionDep
from joinedup.api.guard import Guard
from joinedup.api.referrals import CREATE, ReferralAccess, actor_of
from joinedup.directory.profiles import DISPOSITIONS, NEEDS, REFERRER_FOR_ROLE
from joinedup.feeds.model import Issue, IssueCode, PersonDetails
from joinedup.feeds.uk_core import NHS_NUMBER_SYSTEM
from joinedup.identity.index import people_known_to
from joinedup.population.lake import pseudonym_key
from joinedup.population.worklist import reidentify
from joinedup.records.person import join
from joinedup.referrals.model import ReferralError
from joinedup.referrals.store import NewReferral, open_referral
from joinedup.web.pages import form_errors, templates
from joinedup.web.population_pages import (
    CohortSummary,
    NoLake,
    cohort_summary,
    no_lake_page,
    not_found_page,
    page_context,
    population_view,
)
from joinedup.web.record_pages import banner, refused_page

router = APIRouter(include_in_schema=False)

#: The cohort-referral form's fields, in the order they appear (error summary links).
FIELDS: Final = ("person", "need", "urgency", "summary", "requested_service")


@dataclass(frozen=True)
class Worklist:
    """A cohort's people that one user may act on, by name (each read audited)."""

    slug: str
    cohort: CohortSummary
    rows: list[dict[str, Any]]  # banner facts, "key", "measures", "patient" (FHIR Patient)
    as_of: date

    @property
    def not_listed(self) -> int:
        return self.cohort.size - len(self.rows)


def cohort_worklist(
    request: Request,
    session: Session,
    guard: Guard,
    slug: str,
    only: frozenset[str] | None = None,
) -> Worklist | Response:
    """A cohort as a worklist for ``guard``'s user (``population.worklist`` checked): the
    people of the cohort their organisation holds a record of and they have a legitimate
    relationship with, highest risk first; ``only`` narrows the candidates to these person
    keys. A page (refused, not found, no lake) when there is no worklist to give."""
    what = f"population worklist {slug}"
    try:
        guard.require("population.worklist", what)
    except AccessDenied as error:
        return refused_page(request, error)
    view = population_view(request)
    if slug not in view.cohort_files():
        return not_found_page(request, "There is no such cohort.")
    try:
        summary = cohort_summary(view, slug)
        in_cohort = view.cohort_person_ids(slug)
        measures_by_id = view.person_measures()
    except NoLake:
        return no_lake_page(request, guard.user)
    key = pseudonym_key(view.settings.lake_dir)
    candidates = people_known_to(session, guard.user.organisation)
    if only is not None:
        candidates = [k for k in candidates if k in only]
    rows = []
    for person_key, person_id in reidentify(key, in_cohort, candidates):
        access = guard.person_if_related(person_key, "population.worklist", what)
        if access is None:
            continue
        record = join(person_key, access.sources, [])
        rows.append(
            {
                "key": person_key,
                **banner(record.patient, access),
                "measures": measures_by_id.get(person_id, {}),
                "patient": record.patient,
            }
        )
    rows.sort(key=lambda r: -(r["measures"].get("risk") or 0.0))
    return Worklist(slug, summary, rows, view.as_of)


def _may_refer(guard: Guard) -> bool:
    return guard.user.role in REFERRER_FOR_ROLE and guard.policy.allows(guard.user.role, CREATE)


def _page(
    request: Request,
    guard: Guard,
    access: ReferralAccess | None,
    worklist: Worklist,
    form: dict[str, Any],
    issues: list[Issue] | None = None,
    status_code: int = 200,
) -> Response:
    errors, summary = form_errors(issues or [], FIELDS)
    services = (
        sorted(((s.id, s.name) for s in access.centre.services.values()), key=lambda s: s[1])
        if access is not None
        else []
    )
    return templates.TemplateResponse(
        request,
        "population_worklist.html",
        page_context(
            request,
            guard.user,
            page_title=("Error: " if summary else "") + f"Worklist: {worklist.cohort.name}",
            cohort=worklist.cohort,
            rows=worklist.rows,
            not_listed=worklist.not_listed,
            as_of=worklist.as_of,
            may_refer=access is not None,
            needs=NEEDS,
            dispositions=DISPOSITIONS,
            services=services,
            form=form,
            errors=errors,
            error_summary=summary,
        ),
        status_code=status_code,
    )


def _blank_form(worklist: Worklist) -> dict[str, Any]:
    return {
        "person": {r["key"] for r in worklist.rows},  # everyone ticked to start with
        "need": "",
        "urgency": "routine",
        "summary": f"Proactive referral: the person is in the population-health cohort "
        f"'{worklist.cohort.name}'.",
        "requested_service": "",
    }


@router.get("/population/cohorts/{slug}/worklist", response_class=HTMLResponse)
def worklist_page(request: Request, slug: str, session: SessionDep, user: CurrentUser) -> Response:
    """A cohort as a worklist: by name, only the people the user has a legitimate
    relationship with (each audited); the others counted, never named. Users who refer
    may send the people they pick to a service in one step."""
    guard = Guard.for_request(request, session, user)
    worklist = cohort_worklist(request, session, guard, slug)
    if isinstance(worklist, Response):
        return worklist
    access = ReferralAccess.for_request(request, session, user) if _may_refer(guard) else None
    return _page(request, guard, access, worklist, _blank_form(worklist))


@router.post("/population/cohorts/{slug}/refer")
def refer_cohort(
    request: Request,
    slug: str,
    session: SessionDep,
    user: CurrentUser,
    person: Annotated[list[str] | None, Form()] = None,
    need: Annotated[str, Form()] = "",
    urgency: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
    requested_service: Annotated[str, Form()] = "",
) -> Response:
    """Refer the people picked on a cohort's worklist, one referral each, all or none."""
    access = ReferralAccess.for_request(request, session, user)
    try:
        source = access.referrer_code()
    except AccessDenied as error:
        return refused_page(request, error)
    picked = frozenset(person or ())
    guard = access.guard
    worklist = cohort_worklist(request, session, guard, slug, only=picked)
    if isinstance(worklist, Response):
        return worklist
    form = {
        "person": picked,
        "need": need,
        "urgency": urgency,
        "summary": summary,
        "requested_service": requested_service,
    }
    issues: list[Issue] = []
    if not picked:
        issues.append(Issue(IssueCode.REQUIRED, "person", "Select the people to refer"))
    elif len(worklist.rows) < len(picked):
        issues.append(
            Issue(
                IssueCode.VALUE,
                "person",
                f"{len(picked) - len(worklist.rows)} of the people selected are no longer on "
                "your worklist for this cohort: they were left out, check the list and send again",
            )
        )
    if not need:
        issues.append(Issue(IssueCode.REQUIRED, "need", "Select what the people need"))
    if not urgency:
        issues.append(Issue(IssueCode.REQUIRED, "urgency", "Select how urgent it is"))
    if not summary.strip():
        issues.append(Issue(IssueCode.REQUIRED, "summary", "Enter why you are referring them"))
    if issues:
        return _page(request, guard, access, worklist, form, issues, status_code=422)
    already = {
        r["key"]: found
        for r in worklist.rows
        if (found := open_referral(session, r["key"], need)) is not None
    }
    news = [
        NewReferral(
            channel="proactive",
            source=source,
            referrer=actor_of(user),
            need=need,
            urgency=urgency,
            summary=summary,
            patient=_details(r["patient"]),
            requested_service=requested_service or None,
            cohort=slug,
            person_key=r["key"],
            where={"need": "need", "urgency": "urgency", "summary": "summary"},
        )
        for r in worklist.rows
        if r["key"] not in already
    ]
    session.rollback()  # take_all() writes in a transaction of its own
    try:
        referrals = access.take_all(news)
    except ReferralError as error:
        if error.status in (400, 404, 422):
            return _page(request, guard, access, worklist, form, error.issues, error.status)
        raise
    names = {r["key"]: r for r in worklist.rows}
    return templates.TemplateResponse(
        request,
        "population_referred.html",
        page_context(
            request,
            user,
            page_title=f"Referred: {worklist.cohort.name}",
            cohort=worklist.cohort,
            need=NEEDS.get(need, need),
            referred=[(names[r.person_key], r) for r in referrals],
            already=[(names[key], ref) for key, ref in already.items()],
        ),
    )


def _details(patient: dict[str, Any]) -> PersonDetails:
    """What the referral carries to identify the person (its copy in their record)."""
    nhs = next(
        (i["value"] for i in patient.get("identifier", []) if i.get("system") == NHS_NUMBER_SYSTEM),
        None,
    )
    birth = patient.get("birthDate")
    return PersonDetails(
        local_id="",
        nhs_number=nhs,
        birth_date=date.fromisoformat(birth) if birth else None,
    )
