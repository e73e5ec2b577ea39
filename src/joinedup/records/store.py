"""Storing partners' FHIR resources in the shared care record, with provenance.

Ids are namespaced by sender: a resource's stored id is derived from (partner, feed, type,
the sender's own id), so two partners' ``Encounter/1`` never collide and a re-sent resource
lands on the same row (a new version only when its content changed). Relative references
inside the resource are rewritten the same way, so they keep pointing at what the sender meant.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from joinedup.records import tables

_RESOURCE_NAMESPACE = uuid.UUID("0b6f7b0e-5d5e-4f57-8f4e-2f4b9c3c6a10")


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
            if key == "reference" and isinstance(item, str):
                out[key] = _rewrite(item, partner, feed, patient_local_id)
            else:
                out[key] = namespace_references(item, partner, feed, patient_local_id)
        return out
    if isinstance(value, list):
        return [namespace_references(item, partner, feed, patient_local_id) for item in value]
    return value


def _rewrite(reference: str, partner: str, feed: str, patient_local_id: str | None) -> str:
    if patient_local_id is not None and reference == f"Patient/{patient_local_id}":
        return f"Patient/{stored_id(partner, feed, 'Patient', patient_local_id)}"
    parts = reference.split("/")
    if len(parts) != 2 or not parts[0][:1].isupper() or "?" in reference or ":" in reference:
        return reference
    resource_type, sender_id = parts
    return f"{resource_type}/{stored_id(partner, feed, resource_type, sender_id)}"


def store_resources(
    session: Session,
    resources: Iterable[dict[str, Any]],
    *,
    partner: str,
    feed: str,
    message_id: str,
    received_at: datetime,
    source_record_id: int | None,
    patient_local_id: str | None,
) -> int:
    """Store a unit's resources; returns how many were new or changed.

    The unit's Patient resource is kept under its person's local id, which is what the
    other resources' ``Patient/<local id>`` references name.
    """
    t = tables.resource
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
        prepared.append((resource_type, rid, content, _content_hash(content)))
    if not prepared:
        return 0
    # One query for what is already stored, one insert for everything new.
    existing = {
        (row.resource_type, row.id): (row.version, row.sha256)
        for row in session.execute(
            # By id alone (ids are unique across types too): SQLite can't use an index for
            # a list of (type, id) pairs, and scanning the table per unit made intake quadratic.
            select(t.c.resource_type, t.c.id, t.c.version, t.c.sha256).where(
                t.c.id.in_([rid for _, rid, _, _ in prepared])
            )
        )
    }
    provenance = {
        "source_record_id": source_record_id,
        "partner": partner,
        "feed": feed,
        "message_id": message_id,
        "received_at": received_at,
    }
    new_rows: dict[tuple[str, str], dict[str, Any]] = {}
    changed = 0
    for resource_type, rid, content, digest in prepared:
        known = existing.get((resource_type, rid))
        if known is None:
            content["meta"] = {**content.get("meta", {}), "versionId": "1"}
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
            content["meta"] = {**content.get("meta", {}), "versionId": str(version)}
            session.execute(
                update(t)
                .where(t.c.resource_type == resource_type, t.c.id == rid)
                .values(version=version, content=content, sha256=digest, **provenance)
            )
            existing[(resource_type, rid)] = (version, digest)
            changed += 1
    if new_rows:
        session.execute(insert(t), list(new_rows.values()))
        changed += len(new_rows)
    return changed


def _content_hash(resource: dict[str, Any]) -> str:
    body = {k: v for k, v in resource.items() if k != "meta"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
