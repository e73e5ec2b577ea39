"""The directory (the ICS as data) and registered-population counts.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_ics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("icb", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_ics")),
    )
    op.create_table(
        "directory_area",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_directory_area")),
    )
    op.create_table(
        "directory_place",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("area", sa.String(40), nullable=False),
        sa.Column("postcode_districts", sa.JSON(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("deprivation", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area"],
            ["directory_area.code"],
            name=op.f("fk_directory_place_area_directory_area"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_directory_place")),
    )
    op.create_table(
        "directory_pcn",
        sa.Column("code", sa.String(10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("area", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["area"], ["directory_area.code"], name=op.f("fk_directory_pcn_area_directory_area")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_directory_pcn")),
    )
    op.create_table(
        "directory_organisation",
        sa.Column("ods_code", sa.String(10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("area", sa.String(40), nullable=True),
        sa.Column("place", sa.String(200), nullable=True),
        sa.Column("pcn", sa.String(10), nullable=True),
        sa.Column("beds", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["area"],
            ["directory_area.code"],
            name=op.f("fk_directory_organisation_area_directory_area"),
        ),
        sa.ForeignKeyConstraint(
            ["pcn"],
            ["directory_pcn.code"],
            name=op.f("fk_directory_organisation_pcn_directory_pcn"),
        ),
        sa.PrimaryKeyConstraint("ods_code", name=op.f("pk_directory_organisation")),
    )
    op.create_table(
        "directory_service",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("age_min", sa.Integer(), nullable=False),
        sa.Column("age_max", sa.Integer(), nullable=False),
        sa.Column("eligibility", sa.Text(), nullable=False),
        sa.Column("opening_hours", sa.JSON(), nullable=False),
        sa.Column("capacity_amount", sa.Integer(), nullable=True),
        sa.Column("capacity_unit", sa.String(60), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider"],
            ["directory_organisation.ods_code"],
            name=op.f("fk_directory_service_provider_directory_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_service")),
    )
    op.create_table(
        "registered_population",
        sa.Column("practice", sa.String(10), nullable=False),
        sa.Column("sex", sa.String(10), nullable=False),
        sa.Column("age_band", sa.String(10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "practice", "sex", "age_band", name=op.f("pk_registered_population")
        ),
    )


def downgrade() -> None:
    op.drop_table("registered_population")
    op.drop_table("directory_service")
    op.drop_table("directory_organisation")
    op.drop_table("directory_pcn")
    op.drop_table("directory_place")
    op.drop_table("directory_area")
    op.drop_table("directory_ics")
