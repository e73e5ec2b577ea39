"""Access control: the hash-chained audit log, break-glass accesses and objections.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The hash before the first entry (64 zeros), as in joinedup.access.audit.GENESIS.
GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "access_audit_event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_subject", sa.String(200), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("organisation", sa.String(20), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("person_key", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_audit_event")),
    )
    op.create_index(op.f("ix_access_audit_event_at"), "access_audit_event", ["at"])
    op.create_index(
        op.f("ix_access_audit_event_user_subject"), "access_audit_event", ["user_subject"]
    )
    op.create_index(op.f("ix_access_audit_event_person_key"), "access_audit_event", ["person_key"])

    head = op.create_table(
        "access_audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])

    op.create_table(
        "access_break_glass",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_subject", sa.String(200), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("organisation", sa.String(20), nullable=False),
        sa.Column("person_key", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(200), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_break_glass")),
    )
    op.create_index(
        "ix_access_break_glass_user_person",
        "access_break_glass",
        ["user_subject", "person_key"],
    )

    op.create_table(
        "access_objection",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_key", sa.String(40), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_by", sa.String(200), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_objection")),
    )
    op.create_index(op.f("ix_access_objection_person_key"), "access_objection", ["person_key"])


def downgrade() -> None:
    op.drop_table("access_objection")
    op.drop_table("access_break_glass")
    op.drop_table("access_audit_chain_head")
    op.drop_table("access_audit_event")
