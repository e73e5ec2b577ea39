"""Storing partners' FHIR resources in the shared care record, with provenance.

Ids are namespaced by sender: a resource's stored id is derived from (partner, feed, type,
the sender's own id), so two partners' ``Encounter/1`` never collide and a re-sent resource
lands on the same row (a new version only when its content changed). Relative references
inside the resource are rewritten the same way, so they keep pointing at what the sender meant.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

import orjson
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from joinedup.records import tables
from joinedup.records.search import IndexRow, index_rows

_RESOURCE_NAMESPACE = uuid.UUID("0b6f7b0e-5d5e-4f57-8f4e-2f4b9c3c6a10")

# Run for every unit intake stores, so built once. What is already stored is looked up by id
# alone (ids are unique across types too): SQLite can't use an index for a list of (type, id)
# pairs, and scanning the table per unit made intake quadratic.
_t = tables.resource
_STORED_VERSIONS = select(_t.c.resource_type, _t.c.id, _t.c.version, _t.c.sha256).where(
    _t.c.id.in_(bindparam("ids", expanding=True))
)
_INSERT_RESOURCE = insert(_t)
_DELETE_INDEX = delete(tables.search).where(
    tables.search.c.resource_id.in_(bindparam("ids", expanding=True))
)


@functools.lru_cache(maxsize=65_536)  # a unit names its patient and encounter many times
def stored_id(partner: str, feed: str, resource_type: str, sender_id: str) -> str:
    """The id under which a sender's resource is kept (stable, unique per sender)."""
    return str(uuid.uuid5(_RESOURCE_NAMESPACE, f"{partner}|{feed}|{resource_type}|{sender_id}"))


def namespace_references(
    value: Any, partner: str, feed: str, patient_local_id: str | None = None
) -> Any:
    """A copy of ``value`` with every relative ``Type/id`` reference rewritten to stored ids.

    ``Patient/<patient_local_id>`` (the parsers' name for the unit's person, whose local id
    may be a ``system|value`` with slashes in it) is rewritten too. Absolute URLs, ``urn:``
    references, conditional references (``Type?identifier=...``) and contained (``#id``)
    references are left as they are.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                out[key] = namespace_references(item, partner, feed, patient_local_id)
            elif key == "reference" and isinstance(item, str):
                out[key] = _rewrite(item, partner, feed, patient_local_id)
            else:
                out[key] = item
        return out
    if isinstance(value, list):
        return [
            namespace_references(item, partner, feed, patient_local_id)
            if isinstance(item, (dict, list))
            else item
            for item in value
        ]
    return value


def _rewrite(reference: str, partner: str, feed: str, patient_local_id: str | None) -> str:
    if patient_local_id is not None and reference == f"Patient/{patient_local_id}":
        return f"Patient/{stored_id(partner, feed, 'Patient', patient_local_id)}"
    parts = reference.split("/")
    if len(parts) != 2 or not parts[0][:1].isupper() or "?" in reference or ":" in reference:
        return reference
    resource_type, sender_id = parts
    return f"{resource_type}/{stored_id(partner, feed, resource_type, sender_id)}"


class Prepared(NamedTuple):
    """A resource ready to store."""

    resource_type: str
    id: str
    content: bytes  # JSON, references rewritten to stored ids
    sha256: str
    entries: list[IndexRow]  # its search index entries


def prepare_resources(
    resources: Iterable[dict[str, Any]],
    *,
    partner: str,
    feed: str,
    patient_local_id: str | None,
) -> list[Prepared]:
    """A unit's resources with their stored ids, rewritten references and content digests.

    Needs no database, so intake does it in its parsing processes, and hands the JSON over
    ready-serialised (bytes cross between processes far faster than nested dicts). The unit's Patient
    resource is kept under its person's local id, which is what the other resources'
    ``Patient/<local id>`` references name.
    """
    prepared = []
    for resource in resources:
        resource_type = str(resource["resourceType"])
        sender_id = (
            patient_local_id
            if resource_type == "Patient" and patient_local_id is not None
            else str(resource.get("id") or _content_hash(resource))
        )
        rid = stored_id(partner, feed, resource_type, sender_id)
        content = namespace_references(resource, partner, feed, patient_local_id)
        content["id"] = rid
        prepared.append(
            Prepared(
                resource_type,
                rid,
                orjson.dumps(content),
                _content_hash(content),
                index_rows(content),
            )
        )
    return prepared


def store_resources(
    session: Session,
    prepared: Sequence[Prepared],
    *,
    partner: str,
    feed: str,
    message_id: str,
    received_at: datetime,
    source_record_id: int | None,
) -> int:
    """Store a unit's prepared resources; returns how many were new or changed.

    The content is stored as the sender's resource with our ids; ``meta.versionId`` and
    ``meta.lastUpdated`` are the server's, kept in the ``version`` and ``received_at`` columns
    and given when the resource is read.
    """
    t = tables.resource
    if not prepared:
        return 0
    # One query for what is already stored, one insert for everything new.
    existing = {
        (row.resource_type, row.id): (row.version, row.sha256)
        for row in session.execute(_STORED_VERSIONS, {"ids": [p.id for p in prepared]})
    }
    provenance = {
        "source_record_id": source_record_id,
        "partner": partner,
        "feed": feed,
        "message_id": message_id,
        "received_at": received_at,
    }
    new_rows: dict[tuple[str, str], dict[str, Any]] = {}
    index: dict[str, list[IndexRow]] = {}
    replaced: list[str] = []  # stored before, changed now: their old index rows go
    changed = 0
    for resource_type, rid, text, digest, rows in prepared:
        known = existing.get((resource_type, rid))
        content = orjson.Fragment(text)  # written to the JSON column as it is
        if known is None or known[1] != digest:
            index[rid] = rows
            if known is not None:
                replaced.append(rid)
        if known is None:
            # The same resource twice in one unit: the last one wins, stored once.
            new_rows[(resource_type, rid)] = {
                "resource_type": resource_type,
                "id": rid,
                "version": 1,
                "content": content,
                "sha256": digest,
                **provenance,
            }
        elif known[1] != digest:
            version = known[0] + 1
            session.execute(
                update(t)
                .where(t.c.resource_type == resource_type, t.c.id == rid)
                .values(version=version, content=content, sha256=digest, **provenance)
            )
            existing[(resource_type, rid)] = (version, digest)
            changed += 1
    if new_rows:
        session.execute(_INSERT_RESOURCE, list(new_rows.values()))
        changed += len(new_rows)
    if replaced:
        session.execute(_DELETE_INDEX, {"ids": replaced})
    if index:
        _index(session, index, {rid: rt for rt, rid, *_ in prepared})
    return changed


def _index(session: Session, index: dict[str, list[IndexRow]], types: dict[str, str]) -> None:
    """Write the search index entries of the resources named.

    Several rows per resource, for every resource taken in: written with the driver's own
    ``executemany`` (SQLAlchemy's per-value processing cost more than the insert itself).
    SQLite keeps date-times as SQLAlchemy writes them (text), PostgreSQL as timestamps.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    when = _sqlite_datetime if sqlite else _same
    rows = [
        (types[rid], rid, param, system, value, when(start), when(end))
        for rid, entries in index.items()
        for param, system, value, start, end in entries
    ]
    if rows:
        connection.exec_driver_sql(_INSERT_INDEX_SQL.format(mark=mark), rows)


_INSERT_INDEX_SQL: Final = (
    'INSERT INTO record_search (resource_type, resource_id, param, system, value, start, "end") '
    "VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, {mark}, {mark})"
)


def _same(value: datetime | None) -> datetime | None:
    return value


def _sqlite_datetime(value: datetime | None) -> str | None:
    """A naive date-time as SQLAlchemy's SQLite DateTime stores it (so comparisons agree)."""
    if value is None:
        return None
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def _content_hash(resource: dict[str, Any]) -> str:
    body = {k: v for k, v in resource.items() if k != "meta"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
