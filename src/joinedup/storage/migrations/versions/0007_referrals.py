"""The single point of access: referrals, their history, live capacity status, notifications.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referral",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("person_key", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("source", sa.String(30), nullable=False),
        sa.Column("referrer_org", sa.String(20), nullable=False),
        sa.Column("referrer_user", sa.String(200), nullable=False),
        sa.Column("referrer_name", sa.String(200), nullable=False),
        sa.Column("need", sa.String(40), nullable=False),
        sa.Column("urgency", sa.String(30), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("requested_service", sa.String(100), nullable=True),
        sa.Column("area", sa.String(40), nullable=True),
        sa.Column("cohort", sa.String(100), nullable=True),
        sa.Column("authored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("business_status", sa.String(40), nullable=True),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("proposed_service", sa.String(100), nullable=True),
        sa.Column("proposals", sa.JSON(), nullable=False),
        sa.Column("first_routed_service", sa.String(100), nullable=True),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.Column("bounces", sa.Integer(), nullable=False),
        sa.Column("redirects", sa.Integer(), nullable=False),
        sa.Column("duplicate_of", sa.String(40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
        sa.UniqueConstraint("message_id", name=op.f("uq_referral_message_id")),
    )
    op.create_index(op.f("ix_referral_person_key"), "referral", ["person_key"])
    op.create_index(op.f("ix_referral_received_at"), "referral", ["received_at"])
    op.create_index(op.f("ix_referral_status"), "referral", ["status"])
    op.create_index(op.f("ix_referral_owner"), "referral", ["owner"])
    op.create_index("ix_referral_person_need", "referral", ["person_key", "need"])
    op.create_table(
        "referral_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("service", sa.String(100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_referral_event_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_event")),
    )
    op.create_index(op.f("ix_referral_event_referral_id"), "referral_event", ["referral_id"])
    op.create_table(
        "referral_service_status",
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("service_id", name=op.f("pk_referral_service_status")),
    )
    op.create_table(
        "referral_subscription",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("header", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_subscription")),
    )
    op.create_index(
        op.f("ix_referral_subscription_service_id"), "referral_subscription", ["service_id"]
    )
    op.create_table(
        "referral_notification",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("referral_id", sa.String(40), nullable=False),
        sa.Column("event", sa.String(30), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["referral_subscription.id"],
            name=op.f("fk_referral_notification_subscription_id_referral_subscription"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral.id"],
            name=op.f("fk_referral_notification_referral_id_referral"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_notification")),
    )
    op.create_index(op.f("ix_referral_notification_status"), "referral_notification", ["status"])


def downgrade() -> None:
    op.drop_table("referral_notification")
    op.drop_table("referral_subscription")
    op.drop_table("referral_service_status")
    op.drop_table("referral_event")
    op.drop_table("referral")
