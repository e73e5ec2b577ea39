"""The FHIR R4 REST API at ``/fhir``: the shared care record for partners' systems.

Reads and searches serve the joined-up record (:mod:`joinedup.records.query`): a person is
``Patient/<person key>``, made from all their source records, and every other resource is
the partner's own, with ``meta.source`` naming the partner feed it came from. Every
person-level request needs a bearer token and a legitimate relationship
(:mod:`joinedup.api.guard`) and is audited. Writes (``POST /fhir`` with a Bundle) go through
the feeds pipeline as a message from the user's organisation, with the same validation,
quarantine and provenance as any feed.

Errors are ``OperationOutcome`` resources: 400 for a search the server can't run, 401
without a valid token, 403 without a relationship or the role, 404 for nothing there,
422 for a Bundle that fails validation (it is quarantined).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

import joinedup
from joinedup.access import audit
from joinedup.access.deps import CurrentUser
from joinedup.access.model import AccessDenied
from joinedup.api.deps import SessionDep
from joinedup.api.guard import Guard, people_visible
from joinedup.feeds.intake import ingest_message
from joinedup.feeds.model import Issue, IssueCode, Message, MessageFormat, operation_outcome
from joinedup.feeds.pipeline import Outcome
from joinedup.records import search
from joinedup.records.person import joined_patient
from joinedup.records.query import (
    PATIENT_PARAMETERS,
    SearchError,
    StoredResource,
    find_people,
    read_resource,
    search_resources,
    split_prefix,
)
from joinedup.records.query import everything as everything_of
from joinedup.referrals.fhir import REFERRAL_CAPABILITIES

FHIR_JSON: Final = "application/fhir+json"
DEFAULT_COUNT: Final = 50
#: The most people a Patient search may match before it is refused as too broad.
MAX_PATIENT_MATCHES: Final = 100
MAX_COUNT: Final = 500
#: Search result parameters the server understands besides the search parameters. The total
#: is always counted, so ``_total`` and fhirpy's ``_totalMethod`` change nothing.
RESULT_PARAMETERS: Final = (
    "_count",
    "_offset",
    "_sort",
    "_include",
    "_revinclude",
    "_format",
    "_total",
    "_totalMethod",
)
#: The feed name under which the API's writes are taken, per writing organisation.
API_FEED: Final = "fhir-api"

router = APIRouter(prefix="/fhir", tags=["FHIR R4"])


class FhirResponse(Response):
    """A FHIR JSON response."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def outcome(status: int, code: str, diagnostics: str, location: str | None = None) -> FhirResponse:
    """An ``OperationOutcome`` response with one error."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if location:
        issue["expression"] = [location]
    return FhirResponse({"resourceType": "OperationOutcome", "issue": [issue]}, status_code=status)


def access_outcome(error: AccessDenied) -> FhirResponse:
    """An access refusal as an ``OperationOutcome`` (401 also says how to authenticate)."""
    response = outcome(error.status, "security" if error.status == 403 else "login", error.reason)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="joinedup"'
    return response


# --- capability ------------------------------------------------------------------------------


@router.get("/metadata", summary="The CapabilityStatement: what this server supports")
def metadata(request: Request) -> FhirResponse:
    """What the server supports, generated from the same tables the searches run on."""
    resources: list[dict[str, Any]] = [
        {
            "type": "Patient",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": name, "type": _PATIENT_TYPES[name]} for name in PATIENT_PARAMETERS
            ],
            "searchRevInclude": [f"{t}:patient" for t in search.CLINICAL_TYPES],
            "operation": [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                }
            ],
        }
    ]
    for resource_type in search.CLINICAL_TYPES:
        params = [p for p in search.PARAMETERS if p.resource_type == resource_type]
        resources.append(
            {
                "type": resource_type,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [{"name": "patient", "type": "reference"}]
                + [{"name": p.name, "type": p.type} for p in params],
                "searchInclude": [f"{resource_type}:patient"],
            }
        )
    resources.append(
        {
            "type": "AuditEvent",
            "interaction": [{"code": "search-type"}],
            "searchParam": [
                {"name": "patient", "type": "reference"},
                {"name": "agent", "type": "token"},
                {"name": "date", "type": "date"},
            ],
            "documentation": "For privacy officers: every person-level read, search and write.",
        }
    )
    resources.extend(REFERRAL_CAPABILITIES)
    return FhirResponse(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-30",
            "kind": "instance",
            "software": {"name": "JoinedUp", "version": joinedup.__version__},
            "implementation": {
                "description": "JoinedUp shared care record",
                "url": str(request.base_url).rstrip("/") + "/fhir",
            },
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "cors": False,
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "OAuth",
                                    }
                                ]
                            }
                        ],
                        "description": "Bearer JWT from the ICS's OpenID Connect provider; "
                        "person-level access needs a legitimate relationship, and is audited.",
                    },
                    "resource": resources,
                    "interaction": [{"code": "transaction"}, {"code": "batch"}],
                    "operation": [
                        {
                            "name": "process-message",
                            "definition": "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message",
                            "documentation": "BaRS referrals (servicerequest-request) into the single point of access.",
                        }
                    ],
                    "searchParam": [
                        {"name": "_count", "type": "number"},
                        {"name": "_sort", "type": "string"},
                    ],
                }
            ],
        }
    )


_PATIENT_TYPES: Final = {
    "identifier": "token",
    "family": "string",
    "given": "string",
    "birthdate": "date",
    "gender": "token",
    "address-postalcode": "string",
    "general-practitioner": "reference",
    "_id": "token",
}


# --- reading ---------------------------------------------------------------------------------


@router.get("/Patient", summary="Search for patients")
def search_patients(request: Request, session: SessionDep, user: CurrentUser) -> FhirResponse:
    """Patients matching the search whom the user has a legitimate relationship with."""
    guard = Guard.for_request(request, session, user)
    params, count, offset = _params(request)
    what = f"Patient?{request.url.query}"
    guard.require("record.search", what)
    criteria = {k: v for k, v in params.items() if k not in RESULT_PARAMETERS}
    unknown = [k for k in criteria if k not in PATIENT_PARAMETERS]
    if unknown:
        raise SearchError(unknown[0], "not a supported Patient search parameter")
    keys = find_people(session, criteria, limit=MAX_PATIENT_MATCHES + 1)
    if len(keys) > MAX_PATIENT_MATCHES:
        # As PDS does: a search this broad is refused, not paged (nor checked person by person).
        raise SearchError(
            "Patient",
            f"more than {MAX_PATIENT_MATCHES} people match: add a given name, date of birth "
            "or postcode",
        )
    allowed = people_visible(guard, keys, "record.search", what)
    page = allowed[offset : offset + count]
    entries = [_entry(request, joined_patient(a.person_key, a.sources)) for a in page]
    for revinclude in params.get("_revinclude", []):
        resource_type = _linked_type(revinclude, "_revinclude")
        for a in page:
            _, found = search_resources(
                session, resource_type, [a.person_key], {}, count=MAX_COUNT, offset=0
            )
            entries += [_entry(request, r.content, "include") for r in guard.visible(a, found)]
    return _bundle(request, len(allowed), entries, count, offset)


@router.get("/Patient/{person_key}", summary="Read a patient (the joined-up person)")
def read_patient(
    request: Request, person_key: str, session: SessionDep, user: CurrentUser
) -> FhirResponse:
    """The person as one Patient made from all their partners' records."""
    guard = Guard.for_request(request, session, user)
    guard.require("record.read", f"Patient/{person_key}")
    access = guard.person(person_key, "record.read", f"Patient/{person_key}")
    if access is None:
        return outcome(404, "not-found", "no Patient with this id")
    return FhirResponse(joined_patient(person_key, access.sources))


@router.get("/Patient/{person_key}/$everything", summary="Everything in a patient's record")
def patient_everything(
    request: Request, person_key: str, session: SessionDep, user: CurrentUser
) -> FhirResponse:
    """The person's Patient and every resource of their record the user may see, paged."""
    guard = Guard.for_request(request, session, user)
    what = f"Patient/{person_key}/$everything"
    guard.require("record.read", what)
    access = guard.person(person_key, "record.read", what)
    if access is None:
        return outcome(404, "not-found", "no Patient with this id")
    _, count, offset = _params(request)
    total, rows = guard.page(
        access,
        lambda n, at: everything_of(session, person_key, count=n, offset=at),
        count,
        offset,
    )
    entries = [_entry(request, r.content) for r in rows]
    if offset == 0:
        entries.insert(0, _entry(request, joined_patient(person_key, access.sources)))
    return _bundle(request, total, entries, count, offset)


@router.get("/AuditEvent", summary="The audit trail, for privacy officers")
def audit_events(request: Request, session: SessionDep, user: CurrentUser) -> FhirResponse:
    """Audit entries as FHIR AuditEvents, newest first: by ``patient``, ``agent`` (the user's
    subject) and ``date`` (``ge``/``gt``/``le``/``lt`` prefixes); ``_before`` pages back."""
    guard = Guard.for_request(request, session, user)
    what = f"AuditEvent?{request.url.query}"
    guard.require("audit.read", what)
    params, count, _ = _params(request)
    unknown = set(params) - {"patient", "agent", "date", "_count", "_before"}
    if unknown:
        raise SearchError(sorted(unknown)[0], "not a supported AuditEvent search parameter")
    since = until = None
    for value in params.get("date", []):
        prefix, text = split_prefix(value)
        try:
            low, high = search.parse_date(text)
        except ValueError:
            raise SearchError("date", "expected a FHIR date such as 2026-11-30") from None
        if prefix in ("ge", "gt"):
            since = (high if prefix == "gt" else low).replace(tzinfo=UTC)
        elif prefix in ("le", "lt"):
            until = (high if prefix == "le" else low).replace(tzinfo=UTC)
        else:
            since, until = low.replace(tzinfo=UTC), high.replace(tzinfo=UTC)
    before = _number(params, "_before", 0) or None
    found = audit.entries(
        session,
        limit=count,
        before_seq=before,
        person_key=params["patient"][0].removeprefix("Patient/") if "patient" in params else None,
        user_subject=params["agent"][0] if "agent" in params else None,
        since=since,
        until=until,
    )
    guard.record("audit.read", what, None, "success", "privacy officer's audit search")
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "self", "url": str(request.url)}],
        "entry": [_entry(request, audit.as_fhir(e)) for e in found],
    }
    if len(found) == count:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "_before"]
        query.append(("_before", str(found[-1].seq)))
        bundle["link"].append(
            {"relation": "next", "url": str(request.url.replace(query=urlencode(query)))}
        )
    return FhirResponse(bundle)


@router.get("/{resource_type}", summary="Search a patient's resources of one type")
def search_type(
    request: Request, resource_type: str, session: SessionDep, user: CurrentUser
) -> FhirResponse:
    """A person's resources of one type; ``patient`` (or ``subject``) is required."""
    if resource_type not in search.CLINICAL_TYPES:
        return outcome(404, "not-supported", "this server does not serve that resource type")
    guard = Guard.for_request(request, session, user)
    what = f"{resource_type}?{request.url.query}"
    guard.require("record.search", what)
    params, count, offset = _params(request)
    patients = params.get("patient", []) + params.get("subject", [])
    if len(patients) != 1:
        raise SearchError("patient", "search by exactly one patient (patient=Patient/<id>)")
    person_key = patients[0].removeprefix("Patient/")
    access = guard.person(person_key, "record.search", what)
    if access is None:
        return _bundle(request, 0, [], count, offset)
    criteria = {
        k: v
        for k, v in params.items()
        if k not in RESULT_PARAMETERS and k not in ("patient", "subject")
    }
    sort = params.get("_sort", [None])[0]
    total, rows = guard.page(
        access,
        lambda n, at: search_resources(
            session, resource_type, [person_key], criteria, count=n, offset=at, sort=sort
        ),
        count,
        offset,
    )
    entries = [_entry(request, r.content) for r in rows]
    for include in params.get("_include", []):
        if include not in (f"{resource_type}:patient", f"{resource_type}:subject", "*"):
            raise SearchError("_include", f"supported: {resource_type}:patient")
        entries.append(_entry(request, joined_patient(person_key, access.sources), "include"))
    return _bundle(request, total, entries, count, offset)


@router.get("/{resource_type}/{resource_id}", summary="Read one resource")
def read(
    request: Request, resource_type: str, resource_id: str, session: SessionDep, user: CurrentUser
) -> FhirResponse:
    """One resource of a person's record."""
    if resource_type not in search.CLINICAL_TYPES:
        return outcome(404, "not-supported", "this server does not serve that resource type")
    guard = Guard.for_request(request, session, user)
    what = f"{resource_type}/{resource_id}"
    guard.require("record.read", what)
    found = read_resource(session, resource_type, resource_id)
    if found is None or found.person_key is None:
        return outcome(404, "not-found", f"no {resource_type} with this id")
    access = guard.person(found.person_key, "record.read", what)
    if access is None or not guard.visible(access, [found]):
        return outcome(404, "not-found", f"no {resource_type} with this id")
    response = FhirResponse(found.content)
    response.headers["ETag"] = f'W/"{found.version}"'
    return response


# --- writing ---------------------------------------------------------------------------------


@router.post("", summary="Send a Bundle (transaction, batch or collection) into the record")
async def post_bundle(request: Request, user: CurrentUser) -> FhirResponse:
    """Take a Bundle through the feeds pipeline as a message from the user's organisation."""
    sessions = request.app.state.sessions
    with sessions() as session:
        guard = Guard.for_request(request, session, user)
        guard.require("record.write", "Bundle")
    body = await request.body()
    message = Message(
        partner=user.organisation,
        feed=API_FEED,
        format=MessageFormat.FHIR_JSON,
        body=body,
        received_at=datetime.now(UTC),
        name=f"POST /fhir by {user.subject}"[:300],
    )
    outcomes = ingest_message(sessions, message)
    rejected = [o for o in outcomes if o.outcome is Outcome.REJECTED]
    guard.record(
        "record.write",
        f"Bundle ({len(outcomes)} units)",
        None,
        "refused" if rejected else "success",
        "quarantined" if rejected else "taken through the feeds pipeline",
    )
    if rejected and len(rejected) == len(outcomes):
        issues = [i for o in rejected for i in o.issues] or [
            Issue(IssueCode.STRUCTURE, "Bundle", "rejected")
        ]
        return FhirResponse(operation_outcome(issues), status_code=422)
    return FhirResponse(
        {
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [
                {
                    "response": {
                        "status": {
                            Outcome.ACCEPTED: "201 Created",
                            Outcome.DUPLICATE: "200 OK",
                            Outcome.REJECTED: "422 Unprocessable Entity",
                        }[o.outcome],
                        **({"outcome": operation_outcome(list(o.issues))} if o.issues else {}),
                    }
                }
                for o in outcomes
            ],
        }
    )


# --- helpers ---------------------------------------------------------------------------------


def _params(request: Request) -> tuple[dict[str, list[str]], int, int]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    count = _number(params, "_count", DEFAULT_COUNT)
    offset = _number(params, "_offset", 0)
    return params, min(count, MAX_COUNT), offset


def _number(params: Mapping[str, Sequence[str]], name: str, default: int) -> int:
    values = params.get(name)
    if not values:
        return default
    if not values[0].isdigit():
        raise SearchError(name, "expected a whole number")
    return int(values[0])


def _linked_type(value: str, parameter: str) -> str:
    resource_type, _, target = value.partition(":")
    if resource_type not in search.CLINICAL_TYPES or target not in ("patient", "subject"):
        raise SearchError(parameter, "expected <ResourceType>:patient")
    return resource_type


def _entry(request: Request, resource: dict[str, Any], mode: str = "match") -> dict[str, Any]:
    base = str(request.base_url).rstrip("/") + "/fhir"
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def _bundle(
    request: Request, total: int, entries: list[dict[str, Any]], count: int, offset: int
) -> FhirResponse:
    def link(relation: str, at: int) -> dict[str, str]:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "_offset"]
        query.append(("_offset", str(at)))
        return {"relation": relation, "url": str(request.url.replace(query=urlencode(query)))}

    links = [{"relation": "self", "url": str(request.url)}]
    if offset + count < total:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(offset - count, 0)))
    return FhirResponse(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": total,
            "link": links,
            "entry": entries,
        }
    )


def install(app: FastAPI) -> None:
    """Mount the API and make its errors ``OperationOutcome``s (pages get pages)."""
    app.include_router(router)
    app.add_exception_handler(SearchError, _search_error)  # type: ignore[arg-type]
    app.add_exception_handler(AccessDenied, _access_denied)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]


def _search_error(request: Request, error: SearchError) -> Response:
    return outcome(400, "invalid", error.problem, error.parameter)


def _access_denied(request: Request, error: AccessDenied) -> Response:
    if request.url.path.startswith("/fhir"):
        return access_outcome(error)
    from joinedup.web.record_pages import refused_page

    return refused_page(request, error)


async def _invalid(request: Request, error: RequestValidationError) -> Response:
    if request.url.path.startswith("/fhir"):
        return outcome(400, "invalid", "the request is not valid")
    return await request_validation_exception_handler(request, error)


__all__ = ["StoredResource", "install", "router"]
