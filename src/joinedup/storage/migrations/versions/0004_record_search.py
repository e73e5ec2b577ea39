"""The shared care record's search index, and an index for reading a person's record.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "record_search",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.String(60), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(40), nullable=False),
        sa.Column("system", sa.String(200), nullable=True),
        sa.Column("value", sa.String(300), nullable=True),
        sa.Column("start", sa.DateTime(), nullable=True),
        sa.Column("end", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_search")),
    )
    op.create_index(op.f("ix_record_search_resource_id"), "record_search", ["resource_id"])
    op.create_index(
        "ix_record_search_lookup", "record_search", ["resource_type", "param", "value", "start"]
    )
    op.create_index(
        "ix_record_resource_source_type", "record_resource", ["source_record_id", "resource_type"]
    )
    _index_what_is_stored()


def _index_what_is_stored() -> None:
    """Resources stored before the index existed get their index rows now."""
    from joinedup.records import tables
    from joinedup.records.search import index_rows

    connection = op.get_bind()
    rows = connection.execute(sa.select(tables.resource.c.content)).scalars()
    batch = []
    for content in rows:
        for param, system, value, start, end in index_rows(content):
            batch.append(
                {
                    "resource_type": content["resourceType"],
                    "resource_id": content["id"],
                    "param": param,
                    "system": system,
                    "value": value,
                    "start": start,
                    "end": end,
                }
            )
        if len(batch) >= 10_000:
            connection.execute(sa.insert(tables.search), batch)
            batch = []
    if batch:
        connection.execute(sa.insert(tables.search), batch)


def downgrade() -> None:
    op.drop_index("ix_record_resource_source_type", "record_resource")
    op.drop_table("record_search")
