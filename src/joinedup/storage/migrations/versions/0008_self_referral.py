"""Self-referrals from the public form, kept as sent and held when the person is not known.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "self_referral",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("need", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("referral_id", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_self_referral_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_referral")),
    )
    op.create_index(op.f("ix_self_referral_status"), "self_referral", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_self_referral_status"), table_name="self_referral")
    op.drop_table("self_referral")
