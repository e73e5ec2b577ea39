"""The audit trail: every read, search and write of person-level data, hash-chained.

Each entry stores the previous entry's hash and its own: SHA-256 over a canonical JSON
serialisation (orjson, sorted keys) of its fields, its number ``seq`` (1, 2, 3, ...) and the
previous hash. :func:`verify` walks the chain and names the first entry that was edited
(its hash no longer matches its fields), inserted (it does not link to the entry before,
or lies beyond the chain's head) or deleted (a gap in the numbers, or entries missing from
the end). A one-row head table holds the last number and hash; appends lock it first, so
they are serialised on PostgreSQL (row lock) and on SQLite (the database's write lock).

Entries are served to privacy officers as FHIR R4 ``AuditEvent`` resources (:func:`as_fhir`).
Nothing here logs: the entries hold person keys and queries, which belong in the database
only.
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from joinedup.access.model import Decision, User
from joinedup.access.policy import Policy, load_policy
from joinedup.access.tables import audit_chain_head, audit_event

#: The "previous hash" of the first entry.
GENESIS = "0" * 64

#: Outcomes, and their FHIR AuditEvent.outcome codes (0 success, 4 minor failure, 8 serious).
OUTCOMES = {"success": "0", "refused": "4", "error": "8"}

_HASHED = (
    "seq",
    "at",
    "user_subject",
    "user_name",
    "role",
    "organisation",
    "action",
    "what",
    "person_key",
    "reason",
    "outcome",
    "break_glass",
    "prev_hash",
)


@dataclass(frozen=True)
class AuditEntry:
    """One thing a user did (or was refused): who, as what, from where, what, whose, why."""

    at: datetime  # UTC
    user_subject: str
    user_name: str
    role: str
    organisation: str
    action: str  # read | search | write | break_glass | login | ...
    what: str  # e.g. "Patient/<id>" or "Observation?patient=<id>"
    person_key: str | None
    reason: str  # the decision's reason, or the break-glass reason
    outcome: str  # success | refused | error
    break_glass: bool = False


@dataclass(frozen=True)
class StoredEntry(AuditEntry):
    """An entry as the log holds it: its number in the chain and the hashes that chain it."""

    seq: int = 0
    prev_hash: str = GENESIS
    hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready values (the time as an ISO 8601 instant)."""
        data = asdict(self)
        data["at"] = _instant(self.at)
        return data


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found: ``ok``, how many entries, and the first problem if any."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None  # "edited" | "inserted" | "deleted"
    detail: str | None = None  # words for people: what exactly is wrong
    head_hash: str = GENESIS  # the last entry's hash: keep a copy elsewhere to anchor the log

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UnusualAccess:
    """A user whose access on one day crossed one of the policy's thresholds."""

    user_subject: str
    user_name: str
    role: str
    organisation: str
    day: date
    rule: str  # refused_per_day | distinct_persons_per_day | break_glass_per_day
    count: int
    threshold: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        return data


def entry_for(
    user: User,
    action: str,
    what: str,
    *,
    person_key: str | None,
    decision: Decision | None = None,
    outcome: str | None = None,
    reason: str | None = None,
    break_glass: bool | None = None,
    at: datetime,
) -> AuditEntry:
    """An entry for ``user`` doing ``action``: outcome and reason from the decision if given."""
    if outcome is None:
        outcome = "success" if decision is None or decision.allowed else "refused"
    if reason is None:
        reason = decision.reason if decision is not None else ""
    return AuditEntry(
        at=at,
        user_subject=user.subject,
        user_name=user.name,
        role=user.role,
        organisation=user.organisation,
        action=action,
        what=what,
        person_key=person_key,
        reason=reason,
        outcome=outcome,
        break_glass=(
            break_glass
            if break_glass is not None
            else bool(decision is not None and decision.break_glass)
        ),
    )


def _instant(at: datetime) -> str:
    """``at`` in UTC to the microsecond; a naive time (as SQLite returns it) is UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def as_utc(at: datetime) -> datetime:
    """``at`` as an aware UTC time; a naive time (as SQLite returns it) is taken as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def entry_hash(fields: Mapping[Any, Any]) -> str:
    """SHA-256 (hex) over the canonical serialisation of an entry's fields and prev_hash."""
    canonical = {name: fields[name] for name in _HASHED}
    canonical["at"] = _instant(canonical["at"])
    canonical["break_glass"] = bool(canonical["break_glass"])
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def record(session: Session, entry: AuditEntry) -> int:
    """Append ``entry`` to the log in the caller's transaction; its number (``seq``).

    The chain head is updated first, which locks it until the transaction ends, so
    concurrent appends are serialised and the chain never forks.
    """
    return record_many(session, [entry])[0]


def record_many(session: Session, entries: Sequence[AuditEntry]) -> list[int]:
    """Append ``entries`` in order in the caller's transaction (one lock of the chain head,
    one insert); their numbers."""
    for entry in entries:
        if entry.at.tzinfo is None:
            raise ValueError("audit entries need an aware (UTC) time")
        if entry.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {entry.outcome!r}")
    if not entries:
        return []
    bumped = session.execute(
        update(audit_chain_head)
        .where(audit_chain_head.c.id == 1)
        .values(seq=audit_chain_head.c.seq + len(entries))
    )
    if bumped.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(insert(audit_chain_head).values(id=1, seq=len(entries), hash=GENESIS))
    last, prev_hash = session.execute(
        select(audit_chain_head.c.seq, audit_chain_head.c.hash).where(audit_chain_head.c.id == 1)
    ).one()
    rows: list[dict[str, Any]] = []
    first = int(last) - len(entries) + 1
    for n, entry in enumerate(entries):
        fields: dict[str, Any] = asdict(entry)
        fields["at"] = as_utc(entry.at)
        fields.update(seq=first + n, prev_hash=prev_hash)
        fields["hash"] = prev_hash = entry_hash(fields)
        rows.append(fields)
    session.execute(insert(audit_event), rows)
    session.execute(
        update(audit_chain_head).where(audit_chain_head.c.id == 1).values(hash=prev_hash)
    )
    return [r["seq"] for r in rows]


def _stored(row: Mapping[Any, Any]) -> StoredEntry:
    return StoredEntry(**{**row, "at": as_utc(row["at"])})


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain; name the first entry edited, inserted or deleted, if any."""
    head = session.execute(
        select(audit_chain_head.c.seq, audit_chain_head.c.hash).where(audit_chain_head.c.id == 1)
    ).one_or_none()
    head_seq, head_hash = (0, GENESIS) if head is None else (int(head.seq), str(head.hash))
    expected, prev_hash, count = 1, GENESIS, 0

    def bad(seq: int, problem: str, detail: str) -> VerifyResult:
        return VerifyResult(False, count, seq, problem, detail, head_hash)

    rows = session.execute(select(audit_event).order_by(audit_event.c.seq)).mappings()
    for row in rows.yield_per(1000):
        seq = int(row["seq"])
        if seq > head_seq:
            return bad(
                seq, "inserted", f"entry {seq} lies beyond the chain's last entry ({head_seq})"
            )
        if seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
            return bad(expected, "deleted", f"entries {missing} are missing")
        linked = row["prev_hash"] == prev_hash
        if not linked:
            return bad(seq, "inserted", f"entry {seq} does not link to the entry before it")
        if entry_hash(row) != row["hash"]:
            return bad(seq, "edited", f"entry {seq} no longer matches its hash")
        prev_hash, expected, count = row["hash"], seq + 1, count + 1
    if expected <= head_seq:
        missing = f"{expected}" if expected == head_seq else f"{expected} to {head_seq}"
        return bad(expected, "deleted", f"entries {missing} are missing from the end")
    if prev_hash != head_hash:
        return bad(head_seq, "edited", "the chain's head does not match its last entry")
    return VerifyResult(True, count, head_hash=head_hash)


def entries(
    session: Session,
    *,
    limit: int = 100,
    before_seq: int | None = None,
    person_key: str | None = None,
    user_subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[StoredEntry]:
    """Entries newest first, optionally for one person or one user, or within a time range."""
    query = select(audit_event).order_by(audit_event.c.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(audit_event.c.seq < before_seq)
    if person_key is not None:
        query = query.where(audit_event.c.person_key == person_key)
    if user_subject is not None:
        query = query.where(audit_event.c.user_subject == user_subject)
    if since is not None:
        query = query.where(audit_event.c.at >= since)
    if until is not None:
        query = query.where(audit_event.c.at < until)
    return [_stored(row) for row in session.execute(query).mappings()]


# --- FHIR R4 AuditEvent -----------------------------------------------------------------

_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
_RESTFUL = "http://hl7.org/fhir/restful-interaction"
_ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
#: Where users' identifiers (the tokens' ``sub``) and roles come from.
SUBJECT_SYSTEM = "urn:joinedup:oidc-subject"
ROLE_SYSTEM = "urn:joinedup:access-role"
PERSON_SYSTEM = "urn:joinedup:person-key"

# action -> (AuditEvent.action, restful-interaction subtype code and display)
_REST = {
    "read": ("R", "read", "read"),
    "search": ("E", "search-type", "search type"),
    "write": ("C", "create", "create"),
}


def as_fhir(entry: StoredEntry | Mapping[Any, Any]) -> dict[str, Any]:
    """A FHIR R4 ``AuditEvent`` for one entry (a :class:`StoredEntry` or a row's mapping)."""
    e = entry if isinstance(entry, StoredEntry) else _stored(entry)
    event: dict[str, Any] = {"resourceType": "AuditEvent", "id": str(e.seq)}
    if e.action in _REST:
        action, code, display = _REST[e.action]
        event["type"] = {"system": _EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}
        event["subtype"] = [{"system": _RESTFUL, "code": code, "display": display}]
    elif e.action == "login":
        action = "E"
        event["type"] = {"system": _DCM, "code": "110114", "display": "User Authentication"}
        event["subtype"] = [{"system": _DCM, "code": "110122", "display": "Login"}]
    else:  # break_glass, objections and anything else done to a patient's record
        action = "E"
        event["type"] = {"system": _DCM, "code": "110110", "display": "Patient Record"}
    event["action"] = action
    event["recorded"] = _instant(e.at)
    event["outcome"] = OUTCOMES.get(e.outcome, "8")
    if e.reason:
        event["outcomeDesc"] = e.reason
    break_the_glass = [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                    "code": "BTG",
                    "display": "break the glass",
                }
            ]
        }
    ]
    user_agent: dict[str, Any] = {
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                    "code": "humanuser",
                    "display": "human user",
                }
            ]
        },
        "role": [{"coding": [{"system": ROLE_SYSTEM, "code": e.role}], "text": e.role}],
        "who": {
            "identifier": {"system": SUBJECT_SYSTEM, "value": e.user_subject},
            "display": e.user_name,
        },
        "requestor": True,
    }
    if e.break_glass:
        user_agent["purposeOfUse"] = break_the_glass
        event["purposeOfEvent"] = break_the_glass
    organisation_agent = {
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass",
                    "code": "PROV",
                    "display": "healthcare provider",
                }
            ]
        },
        "who": {"identifier": {"system": _ODS, "value": e.organisation}},
        "requestor": False,
    }
    event["agent"] = [user_agent, organisation_agent]
    event["source"] = {
        "observer": {"display": "JoinedUp"},
        "type": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                "code": "4",
                "display": "Application Server",
            }
        ],
    }
    entities: list[dict[str, Any]] = []
    if e.person_key is not None:
        entities.append(
            {
                "what": {"identifier": {"system": PERSON_SYSTEM, "value": e.person_key}},
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "1",
                    "display": "Person",
                },
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "1",
                    "display": "Patient",
                },
            }
        )
    if e.what:
        what: dict[str, Any] = {
            "type": {
                "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "code": "2",
                "display": "System Object",
            },
            "description": e.what,
        }
        if "?" in e.what:
            what["query"] = base64.b64encode(e.what.encode()).decode()
        elif "/" in e.what:
            what["what"] = {"reference": e.what}
        entities.append(what)
    if entities:
        event["entity"] = entities
    return event


# --- Unusual access --------------------------------------------------------------------


def unusual_access(
    session: Session, since: datetime, now: datetime, *, policy: Policy | None = None
) -> list[UnusualAccess]:
    """Users whose access on a day (UTC) between ``since`` and ``now`` crossed a threshold.

    The policy's ``unusual_access`` rules, per user per day: more refused actions than
    ``refused_per_day``; more distinct persons read, searched or written than
    ``distinct_persons_per_day``; more break-glass openings than ``break_glass_per_day``.
    """
    if policy is None:
        from joinedup.settings import DEFAULT_POLICY

        policy = load_policy(DEFAULT_POLICY)
    rule = policy.unusual_access
    query = (
        select(
            audit_event.c.at,
            audit_event.c.user_subject,
            audit_event.c.user_name,
            audit_event.c.role,
            audit_event.c.organisation,
            audit_event.c.action,
            audit_event.c.person_key,
            audit_event.c.outcome,
        )
        .where(audit_event.c.at >= since, audit_event.c.at < now)
        .order_by(audit_event.c.seq)
    )
    refused: dict[tuple[str, date], int] = defaultdict(int)
    glass: dict[tuple[str, date], int] = defaultdict(int)
    persons: dict[tuple[str, date], set[str]] = defaultdict(set)
    who: dict[str, tuple[str, str, str]] = {}
    for row in session.execute(query):
        key = (row.user_subject, as_utc(row.at).date())
        who[row.user_subject] = (row.user_name, row.role, row.organisation)
        if row.outcome == "refused":
            refused[key] += 1
        if row.action == "break_glass" and row.outcome == "success":
            glass[key] += 1
        if row.action in ("read", "search", "write") and row.person_key is not None:
            persons[key].add(row.person_key)
    found: list[UnusualAccess] = []
    checks: Iterable[tuple[str, Mapping[tuple[str, date], int], int]] = (
        ("refused_per_day", refused, rule.refused_per_day),
        (
            "distinct_persons_per_day",
            {k: len(v) for k, v in persons.items()},
            rule.distinct_persons_per_day,
        ),
        ("break_glass_per_day", glass, rule.break_glass_per_day),
    )
    for name, counts, threshold in checks:
        for (subject, day), count in counts.items():
            if count > threshold:
                user_name, role, organisation = who[subject]
                found.append(
                    UnusualAccess(
                        subject, user_name, role, organisation, day, name, count, threshold
                    )
                )
    return sorted(found, key=lambda u: (u.day, u.user_subject, u.rule))
