"""Virtual wards: admissions, observations, NEWS2 scores, escalations and their events.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "vw_admission",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ward_id", sa.String(100), nullable=False),
        sa.Column("person_key", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("referral_id", sa.String(40), nullable=True),
        sa.Column("admitted_at", _TZ, nullable=False),
        sa.Column("admitted_by", sa.String(200), nullable=False),
        sa.Column("care_plan", sa.Text(), nullable=False),
        sa.Column("readings_per_day", sa.Integer(), nullable=False),
        sa.Column("spo2_scale", sa.Integer(), nullable=False),
        sa.Column("link_hash", sa.String(64), nullable=True),
        sa.Column("discharged_at", _TZ, nullable=True),
        sa.Column("discharged_by", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(30), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vw_admission")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_vw_admission_link_hash")),
    )
    op.create_index(op.f("ix_vw_admission_ward_id"), "vw_admission", ["ward_id"])
    op.create_index(op.f("ix_vw_admission_person_key"), "vw_admission", ["person_key"])
    op.create_index(
        "uq_vw_admission_open_person",
        "vw_admission",
        ["person_key"],
        unique=True,
        sqlite_where=sa.text("discharged_at IS NULL"),
        postgresql_where=sa.text("discharged_at IS NULL"),
    )
    op.create_table(
        "vw_observation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("admission_id", sa.String(40), nullable=False),
        sa.Column("parameter", sa.String(30), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("code", sa.String(2), nullable=True),
        sa.Column("effective_at", _TZ, nullable=False),
        sa.Column("received_at", _TZ, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["admission_id"],
            ["vw_admission.id"],
            name=op.f("fk_vw_observation_admission_id_vw_admission"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vw_observation")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_vw_observation_dedup_key")),
    )
    op.create_index(
        "ix_vw_observation_admission_time", "vw_observation", ["admission_id", "effective_at"]
    )
    op.create_table(
        "vw_score",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("admission_id", sa.String(40), nullable=False),
        sa.Column("effective_at", _TZ, nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("band", sa.String(20), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("computed_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["admission_id"],
            ["vw_admission.id"],
            name=op.f("fk_vw_score_admission_id_vw_admission"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vw_score")),
    )
    op.create_index("ix_vw_score_admission_time", "vw_score", ["admission_id", "effective_at"])
    op.create_table(
        "vw_escalation",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("admission_id", sa.String(40), nullable=False),
        sa.Column("ward_id", sa.String(100), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("raised_at", _TZ, nullable=False),
        sa.Column("observed_at", _TZ, nullable=False),
        sa.Column("due_at", _TZ, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("re_escalations", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", _TZ, nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("closed_at", _TZ, nullable=True),
        sa.Column("closed_by", sa.String(200), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["admission_id"],
            ["vw_admission.id"],
            name=op.f("fk_vw_escalation_admission_id_vw_admission"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vw_escalation")),
    )
    op.create_index(op.f("ix_vw_escalation_admission_id"), "vw_escalation", ["admission_id"])
    op.create_index(op.f("ix_vw_escalation_ward_id"), "vw_escalation", ["ward_id"])
    op.create_index(op.f("ix_vw_escalation_status"), "vw_escalation", ["status"])
    op.create_index(
        "uq_vw_escalation_active",
        "vw_escalation",
        ["admission_id"],
        unique=True,
        sqlite_where=sa.text("status != 'closed'"),
        postgresql_where=sa.text("status != 'closed'"),
    )
    op.create_table(
        "vw_escalation_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("escalation_id", sa.String(40), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["vw_escalation.id"],
            name=op.f("fk_vw_escalation_event_escalation_id_vw_escalation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vw_escalation_event")),
    )
    op.create_index(
        op.f("ix_vw_escalation_event_escalation_id"), "vw_escalation_event", ["escalation_id"]
    )


def downgrade() -> None:
    for table in ("vw_escalation_event", "vw_escalation", "vw_score", "vw_observation"):
        op.drop_table(table)
    op.drop_table("vw_admission")
