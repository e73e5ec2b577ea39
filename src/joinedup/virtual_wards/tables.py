"""Virtual wards' tables: admissions, observations, NEWS2 scores, escalations and what
happened to each escalation."""

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy import Table as _Table

from joinedup.storage.schema import metadata

#: One row per stay on a virtual ward: admitted (step-up or step-down) to discharged.
admission = _Table(
    "vw_admission",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("ward_id", String(100), nullable=False, index=True),
    Column("person_key", String(40), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # step-up | step-down
    Column("referral_id", String(40), nullable=True),  # admitted from a referral
    Column("admitted_at", DateTime(timezone=True), nullable=False),
    Column("admitted_by", String(200), nullable=False),
    Column("care_plan", Text, nullable=False),
    Column("readings_per_day", Integer, nullable=False),
    Column("spo2_scale", Integer, nullable=False),  # 2 only with a prescribed 88-92% target
    Column("link_hash", String(64), nullable=True, unique=True),  # the personal link's token
    Column("discharged_at", DateTime(timezone=True), nullable=True),
    Column("discharged_by", String(200), nullable=True),
    Column("outcome", String(30), nullable=True),  # recovered-at-home | admitted | died | other
    Column("outcome_note", Text, nullable=True),
    # One open stay per person, whoever admits at the same moment.
    Index(
        "uq_vw_admission_open_person",
        "person_key",
        unique=True,
        sqlite_where=text("discharged_at IS NULL"),
        postgresql_where=text("discharged_at IS NULL"),
    ),
)

#: Every reading, as it came (device, patient or staff), once: ``dedup_key`` makes a
#: re-sent device upload a no-op.
observation = _Table(
    "vw_observation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("admission_id", String(40), ForeignKey("vw_admission.id"), nullable=False),
    Column("parameter", String(30), nullable=False),  # a NEWS2 parameter name
    Column("value", Float, nullable=True),  # numeric readings (air/oxygen: 0 air, 1 oxygen)
    Column("code", String(2), nullable=True),  # consciousness: A, C, V, P or U
    Column("effective_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source", String(20), nullable=False),  # device | patient | staff
    Column("recorded_by", String(200), nullable=False),
    Column("dedup_key", String(200), nullable=False, unique=True),
    Index("ix_vw_observation_admission_time", "admission_id", "effective_at"),
)

#: A NEWS2 score for a set of readings (the newest of each parameter within the ward's set
#: window); ``total`` is null when a parameter is missing, and ``missing`` says which.
score = _Table(
    "vw_score",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("admission_id", String(40), ForeignKey("vw_admission.id"), nullable=False),
    Column("effective_at", DateTime(timezone=True), nullable=False),
    Column("total", Integer, nullable=True),
    Column("band", String(20), nullable=True),
    Column("parameters", JSON, nullable=False),  # [{parameter, value, score}]
    Column("missing", JSON, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    Index("ix_vw_score_admission_time", "admission_id", "effective_at"),
)

#: A Task to the ward's clinical team: raised by a NEWS2 band or a ward threshold, with the
#: RCP response and a time to respond by; re-escalated while unacknowledged.
escalation = _Table(
    "vw_escalation",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("admission_id", String(40), ForeignKey("vw_admission.id"), nullable=False, index=True),
    Column("ward_id", String(100), nullable=False, index=True),
    Column("level", String(20), nullable=False),
    Column("reasons", JSON, nullable=False),  # what triggered it, in words
    Column("response", Text, nullable=False),  # the clinical response to make
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),  # the readings' time
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False, index=True),  # open | acknowledged | closed
    Column("re_escalations", Integer, nullable=False),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("acknowledged_by", String(200), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closed_by", String(200), nullable=True),
    Column("action", Text, nullable=True),  # what was done
    # One active escalation per stay, whatever readings arrive at the same moment.
    Index(
        "uq_vw_escalation_active",
        "admission_id",
        unique=True,
        sqlite_where=text("status != 'closed'"),
        postgresql_where=text("status != 'closed'"),
    ),
)

#: Everything that happened to an escalation, in order.
escalation_event = _Table(
    "vw_escalation_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("escalation_id", String(40), ForeignKey("vw_escalation.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event", String(20), nullable=False),  # raised | raised-level | re-escalated | ...
    Column("by", String(200), nullable=False),
    Column("note", Text, nullable=True),
)
