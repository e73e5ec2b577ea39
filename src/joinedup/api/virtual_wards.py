"""Virtual wards over FHIR, and who may work which ward (for the pages too).

* ``POST /fhir/Observation``: one UK Core vital-signs Observation, or a Bundle of them (a
  device's batch upload), for people on a virtual ward. All are taken or none (one
  transaction); each is stored once however often it is sent; each set is scored with
  NEWS2 and escalated as the ward's rules say. 200 with a ``batch-response`` Bundle (201 a
  reading stored, 200 one already taken) and an OperationOutcome per person saying the
  score and any escalation; 422 (OperationOutcome, element paths) when anything is wrong.

A ward's work needs the policy's ``virtual_ward.care`` and the ward among the user's
services (their token's ``joinedup_services``): a device gateway is a user too. Every
request is audited, refusals included.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from joinedup.access.deps import CurrentUser
from joinedup.access.model import AccessDenied, User
from joinedup.api.fhir import FhirResponse
from joinedup.api.guard import Guard
from joinedup.directory.store import read_directory
from joinedup.feeds.model import Issue, IssueCode, operation_outcome
from joinedup.feeds.uk_core import NHS_NUMBER_SYSTEM
from joinedup.records.query import find_people
from joinedup.virtual_wards.config import load_wards
from joinedup.virtual_wards.fhir import parse_observations
from joinedup.virtual_wards.store import Admission, Taken, VirtualWards, WardError, open_admission

router = APIRouter(prefix="/fhir", tags=["FHIR R4: virtual wards"])

#: The policy's action for a virtual ward's work.
CARE: Final = "virtual_ward.care"


def wards_for(request: Request, session: Session) -> VirtualWards:
    """The app's virtual wards (the wards file and the directory, read once)."""
    wards: VirtualWards | None = getattr(request.app.state, "virtual_wards", None)
    if wards is None:
        directory = read_directory(session)
        if directory is None:
            raise WardError.one(
                503, IssueCode.EXCEPTION, "directory", "the ICS's directory is not loaded"
            )
        wards = VirtualWards(load_wards(request.app.state.settings.virtual_wards_file, directory))
        request.app.state.virtual_wards = wards
    return wards


@dataclass
class WardAccess:
    """Which wards one user may work, in one request; audits every decision."""

    guard: Guard
    wards: VirtualWards

    @classmethod
    def for_request(cls, request: Request, session: Session, user: User) -> WardAccess:
        return cls(Guard.for_request(request, session, user), wards_for(request, session))

    @property
    def user(self) -> User:
        return self.guard.user

    def my_wards(self) -> list[str]:
        """The wards the user is on the team of (none without ``virtual_ward.care``)."""
        if not self.guard.policy.allows(self.user.role, CARE):
            return []
        return [w for w in self.user.services if self.wards.config.get(w) is not None]

    def require(self, ward_id: str, what: str, person_key: str | None = None) -> None:
        """403 (audited) unless the user works on this ward."""
        self.wards.ward(ward_id)  # 404 for no such ward
        if ward_id not in self.my_wards():
            self.guard.record(CARE, what, person_key, "refused", "not on this ward's team")
            raise AccessDenied(403, "you are not on this virtual ward's team", "forbidden")

    def record(self, what: str, person_key: str | None, reason: str) -> None:
        self.guard.record(CARE, what, person_key, "success", reason)


@router.post("/Observation", summary="Send vital-signs Observations for people on virtual wards")
async def post_observations(request: Request, user: CurrentUser) -> FhirResponse:
    """Readings from a device, an app or a ward's own system: checked, stored once, scored.
    ``X-Receipt-To-Escalation-Ms``: from the request's arrival at the server (the outermost
    middleware) to the readings stored, scored and any escalation raised."""
    received = getattr(request.state, "received", None) or time.perf_counter()
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise WardError.one(400, IssueCode.STRUCTURE, "body", "the body is not JSON") from None
    parsed, issues = parse_observations(body)
    if issues:
        raise WardError(422, issues)
    now = datetime.now(UTC)
    with request.app.state.sessions() as session:
        access = WardAccess.for_request(request, session, user)
        by_person = _admissions_for(session, access, parsed)
    results: list[tuple[Admission, Taken]] = []
    with access.guard.sessions.begin() as writing:
        for admission, readings in by_person.values():
            taken = access.wards.take_readings(
                writing, admission, readings, source="device", by=user.subject, now=now
            )
            results.append((admission, taken))
    for admission, taken in results:
        access.record(
            f"Observation x{taken.stored} for {admission.id}",
            admission.person_key,
            "readings taken" + (f", escalation {taken.escalation.id}" if taken.escalation else ""),
        )
    response = FhirResponse(_batch_response(results))
    response.headers["X-Receipt-To-Escalation-Ms"] = (
        f"{(time.perf_counter() - received) * 1000:.1f}"
    )
    return response


def _admissions_for(
    session: Session, access: WardAccess, parsed: list[Any]
) -> dict[str, tuple[Admission, list[Any]]]:
    """Each person's open admission and readings; 422 for people on no ward, 403 (audited)
    for wards the user does not work."""
    by_nhs: dict[str, list[Any]] = defaultdict(list)
    where: dict[str, str] = {}
    for p in parsed:
        by_nhs[p.nhs_number].append(p.reading)
        where.setdefault(p.nhs_number, p.where)
    found: dict[str, tuple[Admission, list[Any]]] = {}
    issues: list[Issue] = []
    for nhs, readings in by_nhs.items():
        people = find_people(session, {"identifier": [f"{NHS_NUMBER_SYSTEM}|{nhs}"]}, limit=2)
        admission = open_admission(session, people[0]) if len(people) == 1 else None
        if admission is None:
            issues.append(
                Issue(
                    IssueCode.NOT_FOUND,
                    f"{where[nhs]}.subject",
                    "this person is not on a virtual ward",
                )
            )
            continue
        access.require(admission.ward_id, f"Observation for {admission.id}", admission.person_key)
        found[admission.id] = (admission, readings)
    if issues:
        access.guard.record(CARE, "Observation", None, "error", "; ".join(str(i) for i in issues))
        raise WardError(422, issues)
    return found


def _batch_response(results: list[tuple[Admission, Taken]]) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for admission, taken in results:
        entries += [{"response": {"status": "201 Created"}}] * taken.stored
        entries += [{"response": {"status": "200 OK"}}] * taken.duplicates
        said = [
            f"admission {admission.id}: {taken.stored} stored, {taken.duplicates} already taken"
        ]
        if taken.score is not None:
            said.append(
                f"NEWS2 {taken.score.total} ({taken.score.band})"
                if taken.score.total is not None
                else f"NEWS2 not scored: missing {', '.join(taken.score.missing)}"
            )
        if taken.escalation is not None:
            said.append(f"escalation {taken.escalation.id}: {taken.escalation.level}")
        entries.append(
            {
                "response": {
                    "status": "200 OK",
                    "outcome": {
                        "resourceType": "OperationOutcome",
                        "issue": [
                            {
                                "severity": "information",
                                "code": "informational",
                                "diagnostics": "; ".join(said),
                            }
                        ],
                    },
                }
            }
        )
    return {"resourceType": "Bundle", "type": "batch-response", "entry": entries}


def install(app: Any) -> None:
    """Add the routes, and answer :class:`WardError` as an OperationOutcome."""
    app.include_router(router)

    async def handler(request: Request, error: WardError) -> Any:
        if request.url.path.startswith("/fhir"):
            return FhirResponse(operation_outcome(error.issues), status_code=error.status)
        from joinedup.web.virtual_ward_pages import error_page

        return error_page(request, error)

    app.add_exception_handler(WardError, handler)
