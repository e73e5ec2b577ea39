"""Access control's tables: the hash-chained audit log, break-glass accesses, objections."""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from joinedup.storage.schema import metadata

#: Every read, search and write of person-level data, in order. Each entry's ``hash`` covers
#: its fields and the previous entry's hash; ``seq`` counts 1, 2, 3, ... so a gap is a deletion.
audit_event = Table(
    "access_audit_event",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("user_subject", String(200), nullable=False, index=True),
    Column("user_name", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("organisation", String(20), nullable=False),
    Column("action", String(20), nullable=False),  # read | search | write | break_glass | ...
    Column("what", Text, nullable=False),  # e.g. Patient/<id>, Observation?patient=...
    Column("person_key", String(40), nullable=True, index=True),
    Column("reason", Text, nullable=False),
    Column("outcome", String(10), nullable=False),  # success | refused | error
    Column("break_glass", Boolean, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

#: One row (id 1): the last entry's number and hash. Appends lock it, so they are serialised,
#: and it shows entries deleted from the end of the log or forged after it.
audit_chain_head = Table(
    "access_audit_chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

#: Emergency accesses to one person's record, each with its reason, until reviewed.
break_glass = Table(
    "access_break_glass",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_subject", String(200), nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("organisation", String(20), nullable=False),
    Column("person_key", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("reviewed_by", String(200), nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Column("review_note", Text, nullable=True),
    Index("ix_access_break_glass_user_person", "user_subject", "person_key"),
)

#: People's objections to sharing their record; the current one has no ``withdrawn_at``.
objection = Table(
    "access_objection",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_key", String(40), nullable=False, index=True),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_by", String(200), nullable=True),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
)
