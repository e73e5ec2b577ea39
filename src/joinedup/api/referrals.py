"""The single point of access over FHIR: BaRS referrals in, Tasks read and updated, and
receiving teams' subscriptions; plus who may do what to a referral, for the pages too.

* ``POST /fhir/$process-message``: a BaRS referral message. 200 with a response message
  and the Task; 409 for a message already taken; 422 (OperationOutcome) when it can't be.
* ``GET /fhir/Task/{id}`` (with ``ETag``) and ``GET /fhir/Task`` (``owner``, ``status``,
  ``patient``, ``requester``, ``_count``, ``_offset``).
* ``PUT /fhir/Task/{id}`` with ``If-Match``: a status change is a lifecycle step
  (:func:`joinedup.referrals.fhir.action_for_update`); 412 if the Task changed meanwhile,
  428 without ``If-Match``.
* ``POST /fhir/Subscription`` (rest-hook, criteria ``Task?owner=<service id>``) and
  ``GET /fhir/Subscription``.

Every request is checked against the access policy and audited, refusals included.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from joinedup.access.deps import CurrentUser
from joinedup.access.model import AccessDenied, User
from joinedup.api.deps import SessionDep
from joinedup.api.fhir import FhirResponse
from joinedup.api.guard import Guard
from joinedup.directory.profiles import REFERRER_FOR_ROLE
from joinedup.directory.store import read_directory
from joinedup.feeds.model import IssueCode, operation_outcome
from joinedup.referrals import tables
from joinedup.referrals.fhir import action_for_update, parse_bars, task
from joinedup.referrals.model import CENTRE, TRANSITIONS, Action, Referral, ReferralError, Status
from joinedup.referrals.rules import load_rules
from joinedup.referrals.store import (
    SERVICE_SYSTEM,
    Actor,
    Centre,
    NewReferral,
    get_referral,
    list_referrals,
)

router = APIRouter(prefix="/fhir", tags=["FHIR R4: referrals"])

#: Audit actions (the policy's) for each part of the single point of access.
CREATE: Final = "referral.create"
COORDINATE: Final = "referral.coordinate"
TEAM: Final = "referral.team"
STATUS: Final = "referral.status"


def centre_for(request: Request, session: Session) -> Centre:
    """The app's single point of access (its directory and rules, read once)."""
    centre: Centre | None = getattr(request.app.state, "referral_centre", None)
    if centre is None:
        directory = read_directory(session)
        if directory is None:
            raise ReferralError.one(
                503, IssueCode.EXCEPTION, "directory", "the ICS's directory is not loaded"
            )
        centre = Centre(directory, load_rules(request.app.state.settings.routing_rules))
        request.app.state.referral_centre = centre
    return centre


def actor_of(user: User) -> Actor:
    """The user as a referral's actor."""
    return Actor(user.subject, user.name, user.organisation)


@dataclass
class ReferralAccess:
    """Who may do what to referrals, for one user in one request; audits every decision."""

    guard: Guard
    centre: Centre

    @classmethod
    def for_request(cls, request: Request, session: Session, user: User) -> ReferralAccess:
        return cls(Guard.for_request(request, session, user), centre_for(request, session))

    @property
    def user(self) -> User:
        return self.guard.user

    def allows(self, action: str) -> bool:
        return self.guard.policy.allows(self.user.role, action)

    def referrer_code(self) -> str:
        """The kind of referrer the user refers as (403 if their role cannot refer)."""
        self.guard.require(CREATE, "referral")
        code = REFERRER_FOR_ROLE.get(self.user.role)
        if code is None:
            raise AccessDenied(403, "your role does not refer", "forbidden")
        return code

    def basis(self, referral: Referral) -> str | None:
        """Why the user may see this referral (the audit action), or None."""
        if self.allows(COORDINATE):
            return COORDINATE
        if self.allows(TEAM) and referral.owner in self.user.services:
            return TEAM
        if referral.referrer_user == self.user.subject:
            return CREATE
        return None

    def read(self, referral: Referral, what: str) -> str:
        """Check and audit a read of one referral; its basis. 403 (audited) if none."""
        basis = self.basis(referral)
        if basis is None:
            self.guard.record(TEAM, what, referral.person_key, "refused", "not your referral")
            raise AccessDenied(403, "this referral is not yours, nor for your service", "forbidden")
        self.guard.record(basis, what, referral.person_key, "success", _BASIS[basis])
        return basis

    def check_action(self, referral: Referral, action: Action, what: str) -> None:
        """Check and audit the right to do ``action`` (a refusal is audited and raised)."""
        side = _SIDE[action]
        if side == COORDINATE:
            allowed = self.allows(COORDINATE) or (
                action is Action.CANCEL and referral.referrer_user == self.user.subject
            )
        else:
            allowed = self.allows(TEAM) and referral.owner in self.user.services
        if not allowed:
            reason = (
                "only the coordination centre does this"
                if side == COORDINATE
                else "only the team the referral is with does this"
            )
            self.guard.record(side, what, referral.person_key, "refused", reason)
            raise AccessDenied(403, reason, "forbidden")

    def act(
        self,
        session: Session,
        referral_id: str,
        action: Action,
        *,
        expected_version: int | None,
        service: str | None = None,
        reason: str | None = None,
    ) -> Referral:
        """Do ``action`` as this user: checked, written in one transaction, audited."""
        what = f"Task/{referral_id} {action.value}"
        current = get_referral(session, referral_id)
        self.check_action(current, action, what)
        session.rollback()  # the write below is a transaction of its own
        with self.guard.sessions.begin() as writing:
            after = self.centre.act(
                writing,
                referral_id,
                action,
                actor_of(self.user),
                datetime.now(UTC),
                expected_version=expected_version,
                service=service,
                reason=reason,
            )
        self.guard.record(_SIDE[action], what, after.person_key, "success", "lifecycle step")
        return after

    def take(self, new: NewReferral) -> Referral:
        """Take a new referral in (one transaction) and audit it; errors audited too."""
        return self.take_all([new])[0]

    def take_all(self, news: Sequence[NewReferral]) -> list[Referral]:
        """Take referrals in, all or none (one transaction), and audit each; a failure is
        audited and raised, with nothing written."""
        try:
            with self.guard.sessions.begin() as writing:
                now = datetime.now(UTC)
                referrals = [self.centre.take(writing, new, now) for new in news]
        except ReferralError as error:
            channel = news[0].channel if news else "none"
            self.guard.record(CREATE, f"referral via {channel}", None, "error", str(error))
            raise
        for new, referral in zip(news, referrals, strict=True):
            self.guard.record(
                CREATE,
                f"Task/{referral.id} via {new.channel}",
                referral.person_key,
                "success",
                f"referred from cohort {new.cohort}" if new.cohort else "referred",
            )
        return referrals

    def clock(self, referral: Referral) -> str:
        return referral.clock(datetime.now(UTC), self.centre.rules.at_risk_after)

    def task(self, referral: Referral) -> dict[str, Any]:
        return task(referral, self.centre.service_name(referral.owner), clock=self.clock(referral))


_BASIS: Final = {
    COORDINATE: "the coordination centre",
    TEAM: "a referral to your service",
    CREATE: "your own referral",
}
_SIDE: Final = {
    action: COORDINATE if side == "coordinate" else TEAM
    for action, (_, _, _, side) in TRANSITIONS.items()
}


def referral_error_response(error: ReferralError) -> FhirResponse:
    """A referral error as an ``OperationOutcome`` with its status."""
    return FhirResponse(operation_outcome(error.issues), status_code=error.status)


# --- BaRS ------------------------------------------------------------------------------------


@router.post("/$process-message", summary="Take a BaRS referral message")
async def process_message(request: Request, user: CurrentUser) -> FhirResponse:
    """A referral (BaRS ``servicerequest-request``) into the single point of access."""
    body = await request.body()
    try:
        bundle = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ReferralError.one(
            400, IssueCode.STRUCTURE, "Bundle", "the body is not JSON"
        ) from None
    with request.app.state.sessions() as session:
        access = ReferralAccess.for_request(request, session, user)
        source = access.referrer_code()
    new = parse_bars(bundle, referrer=actor_of(user), source=source)
    referral = access.take(new)
    header = bundle["entry"][0]["resource"]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return FhirResponse(
        {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "message",
            "timestamp": now,
            "entry": [
                {
                    "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                    "resource": {
                        "resourceType": "MessageHeader",
                        "eventCoding": header.get("eventCoding"),
                        "source": {"endpoint": str(request.base_url).rstrip("/") + "/fhir"},
                        "response": {"identifier": str(header.get("id")), "code": "ok"},
                        "focus": [{"reference": f"Task/{referral.id}"}],
                    },
                },
                {
                    "fullUrl": _url(request, f"Task/{referral.id}"),
                    "resource": access.task(referral),
                },
            ],
        }
    )


# --- Task ------------------------------------------------------------------------------------


@router.get("/Task/{task_id}", summary="Read a referral as a Task")
def read_task(
    request: Request, task_id: str, session: SessionDep, user: CurrentUser
) -> FhirResponse:
    access = ReferralAccess.for_request(request, session, user)
    referral = get_referral(session, task_id)
    access.read(referral, f"Task/{task_id}")
    response = FhirResponse(access.task(referral))
    response.headers["ETag"] = f'W/"{referral.version}"'
    return response


@router.get("/Task", summary="Search referrals (Tasks)")
def search_tasks(request: Request, session: SessionDep, user: CurrentUser) -> FhirResponse:
    """``owner`` (a service id), ``status``, ``patient``, ``requester`` (``me``)."""
    access = ReferralAccess.for_request(request, session, user)
    params = request.query_params
    owner = (params.get("owner") or "").rpartition("|")[2] or None
    try:
        statuses = [Status(s) for s in params.get("status", "").split(",") if s] or None
        count = min(int(params.get("_count", "50") or 50), 500)
        offset = int(params.get("_offset", "0") or 0)
    except ValueError:
        raise ReferralError.one(
            400,
            IssueCode.VALUE,
            "Task search",
            "status must be Task statuses; _count and _offset whole numbers",
        ) from None
    patient = (params.get("patient") or "").removeprefix("Patient/") or None
    referrer = None
    if not access.allows(COORDINATE):
        if owner is not None and not (access.allows(TEAM) and owner in user.services):
            access.guard.record(
                TEAM, f"Task?{request.url.query}", None, "refused", "not your service"
            )
            raise AccessDenied(403, "you may search only your own services' referrals", "forbidden")
        if owner is None:
            referrer = user.subject  # the user's own referrals
    found = list_referrals(
        session,
        owner=owner,
        statuses=statuses,
        person_key=patient,
        referrer_user=referrer,
        limit=count,
        offset=offset,
    )
    entries = []
    for referral in found:
        access.read(referral, f"Task/{referral.id} (search)")
        entries.append(
            {
                "fullUrl": _url(request, f"Task/{referral.id}"),
                "resource": access.task(referral),
                "search": {"mode": "match"},
            }
        )
    return FhirResponse(
        {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    )


@router.put("/Task/{task_id}", summary="Update a referral's Task (a lifecycle step), with If-Match")
async def update_task(request: Request, task_id: str, user: CurrentUser) -> FhirResponse:
    if_match = request.headers.get("if-match")
    if not if_match:
        raise ReferralError.one(
            428,
            IssueCode.REQUIRED,
            "If-Match",
            'send If-Match: W/"<version>" from the Task you read',
        )
    try:
        expected = int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise ReferralError.one(
            400, IssueCode.VALUE, "If-Match", 'expected W/"<version>"'
        ) from None
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise ReferralError.one(400, IssueCode.STRUCTURE, "Task", "the body is not JSON") from None
    if (
        not isinstance(body, dict)
        or body.get("resourceType") != "Task"
        or body.get("id") != task_id
    ):
        raise ReferralError.one(400, IssueCode.VALUE, "Task.id", "send the Task, with this id")
    with request.app.state.sessions() as session:
        access = ReferralAccess.for_request(request, session, user)
        current = get_referral(session, task_id)
        if current.version != expected:  # before reading the change: it was made on old data
            raise ReferralError.one(
                412,
                IssueCode.CONFLICT,
                "If-Match",
                f"the Task has changed since you read it (now version {current.version}): "
                "read it again and redo the change",
            )
        owner = ((body.get("owner") or {}).get("identifier") or {}).get("value")
        action = Action(action_for_update(current, str(body.get("status")), owner))
        reason = (body.get("statusReason") or {}).get("text")
        after = access.act(
            session,
            task_id,
            action,
            expected_version=expected,
            service=owner if action is Action.REDIRECT else None,
            reason=reason,
        )
    response = FhirResponse(access.task(after))
    response.headers["ETag"] = f'W/"{after.version}"'
    return response


# --- Subscription ----------------------------------------------------------------------------


@router.post("/Subscription", summary="Be notified of referrals routed to a service (rest-hook)")
async def create_subscription(request: Request, user: CurrentUser) -> FhirResponse:
    body = orjson.loads(await request.body() or b"{}")
    criteria = str(body.get("criteria") or "")
    channel = body.get("channel") or {}
    service = criteria.removeprefix("Task?owner=").rpartition("|")[2]
    if not criteria.startswith("Task?owner=") or not service:
        raise ReferralError.one(
            400, IssueCode.VALUE, "Subscription.criteria", "expected Task?owner=<service id>"
        )
    if channel.get("type") != "rest-hook" or not str(channel.get("endpoint", "")).startswith(
        ("http://", "https://")
    ):
        raise ReferralError.one(
            400,
            IssueCode.VALUE,
            "Subscription.channel",
            "expected a rest-hook with an http(s) endpoint",
        )
    with request.app.state.sessions() as session:
        access = ReferralAccess.for_request(request, session, user)
        if service not in access.centre.services:
            raise ReferralError.one(
                404, IssueCode.NOT_FOUND, "Subscription.criteria", "no such service"
            )
        if not (access.allows(STATUS) and service in user.services):
            access.guard.record(
                STATUS, f"Subscription {service}", None, "refused", "not your service"
            )
            raise AccessDenied(403, "you may subscribe only to your own services", "forbidden")
    subscription_id = add_subscription(
        request.app.state.sessions,
        service,
        str(channel["endpoint"]),
        (channel.get("header") or [None])[0],
        user.subject,
    )
    access.guard.record(STATUS, f"Subscription/{subscription_id}", None, "success", "subscribed")
    return FhirResponse(
        {**body, "id": subscription_id, "status": "active", "resourceType": "Subscription"},
        status_code=201,
    )


def add_subscription(
    sessions: Any, service: str, endpoint: str, header: str | None, by: str
) -> str:
    """Subscribe ``endpoint`` to referrals routed to ``service``; the subscription's id."""
    subscription_id = "sub-" + uuid.uuid4().hex[:12]
    with sessions.begin() as session:
        session.execute(
            insert(tables.subscription),
            {
                "id": subscription_id,
                "service_id": service,
                "endpoint": endpoint,
                "header": header,
                "active": True,
                "created_at": datetime.now(UTC),
                "created_by": by,
            },
        )
    return subscription_id


@router.get("/Subscription", summary="The subscriptions of the user's services")
def list_subscriptions(request: Request, session: SessionDep, user: CurrentUser) -> FhirResponse:
    s = tables.subscription
    rows = session.execute(select(s).where(s.c.service_id.in_(list(user.services)))).mappings()
    entries = [
        {
            "resource": {
                "resourceType": "Subscription",
                "id": r["id"],
                "status": "active" if r["active"] else "off",
                "reason": "Referrals routed to the service",
                "criteria": f"Task?owner={SERVICE_SYSTEM}|{r['service_id']}",
                "channel": {
                    "type": "rest-hook",
                    "endpoint": r["endpoint"],
                    "payload": "application/fhir+json",
                },
            }
        }
        for r in rows
    ]
    return FhirResponse(
        {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    )


def _url(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + "/fhir/" + path


def install(app: Any) -> None:
    """Mount the referral routes (before the record's generic ones) and their errors."""
    app.include_router(router)

    async def handler(request: Request, error: ReferralError) -> Response:
        if request.url.path.startswith("/fhir"):
            return referral_error_response(error)
        from joinedup.web.referral_pages import error_page

        return error_page(request, error)

    app.add_exception_handler(ReferralError, handler)


__all__ = ["CENTRE", "ReferralAccess", "centre_for", "install", "router"]
