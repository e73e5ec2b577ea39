"""Intake receipts and quarantine, the person index, and the shared care record's resources.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_receipt",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner", sa.String(10), nullable=False),
        sa.Column("feed", sa.String(60), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_receipt")),
        sa.UniqueConstraint("partner", "feed", "message_id", name="uq_feed_receipt_message"),
    )
    op.create_table(
        "feed_quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner", sa.String(10), nullable=False),
        sa.Column("feed", sa.String(60), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issues", sa.JSON(), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_quarantine")),
    )
    op.create_table(
        "identity_source_record",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner", sa.String(10), nullable=False),
        sa.Column("feed", sa.String(60), nullable=False),
        sa.Column("local_id", sa.String(200), nullable=False),
        sa.Column("nhs_number", sa.String(10), nullable=True),
        sa.Column("given", sa.String(200), nullable=True),
        sa.Column("family", sa.String(200), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(10), nullable=True),
        sa.Column("postcode", sa.String(10), nullable=True),
        sa.Column("address_line", sa.String(300), nullable=True),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_source_record")),
        sa.UniqueConstraint("partner", "feed", "local_id", name="uq_identity_source_record_local"),
    )
    op.create_index(
        op.f("ix_identity_source_record_nhs_number"), "identity_source_record", ["nhs_number"]
    )
    op.create_table(
        "identity_person",
        sa.Column("person_key", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("person_key", name=op.f("pk_identity_person")),
    )
    op.create_table(
        "identity_link",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=False),
        sa.Column("person_key", sa.String(40), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_key"],
            ["identity_person.person_key"],
            name=op.f("fk_identity_link_person_key_identity_person"),
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["identity_source_record.id"],
            name=op.f("fk_identity_link_source_record_id_identity_source_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_link")),
    )
    op.create_index("ix_identity_link_current", "identity_link", ["source_record_id", "valid_to"])
    op.create_index("ix_identity_link_person", "identity_link", ["person_key"])
    op.create_table(
        "record_resource",
        sa.Column("resource_type", sa.String(60), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.Column("partner", sa.String(10), nullable=False),
        sa.Column("feed", sa.String(60), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["identity_source_record.id"],
            name=op.f("fk_record_resource_source_record_id_identity_source_record"),
        ),
        sa.PrimaryKeyConstraint("resource_type", "id", name=op.f("pk_record_resource")),
    )
    op.create_index(
        op.f("ix_record_resource_source_record_id"), "record_resource", ["source_record_id"]
    )
    op.create_index(op.f("ix_record_resource_id"), "record_resource", ["id"])


def downgrade() -> None:
    op.drop_table("record_resource")
    op.drop_table("identity_link")
    op.drop_table("identity_person")
    op.drop_table("identity_source_record")
    op.drop_table("feed_quarantine")
    op.drop_table("feed_receipt")
