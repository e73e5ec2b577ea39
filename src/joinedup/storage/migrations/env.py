"""Alembic environment: runs migrations on the engine JoinedUp passes in (never a URL from a file)."""

from alembic import context

import joinedup.access.tables
import joinedup.referrals.tables
import joinedup.virtual_wards.tables  # noqa: F401  (and the referral and virtual-ward tables)
from joinedup.storage.schema import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER most things
    )
    context.run_migrations()
