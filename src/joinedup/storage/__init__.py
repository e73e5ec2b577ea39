"""The operational store: SQLAlchemy engines, sessions and Alembic migrations.

SQLite (a file under ``var/``) is the embedded default; PostgreSQL (psycopg 3) is used when
``JOINEDUP_DATABASE_URL`` says so. Each part declares its own tables on :data:`metadata`;
the schema itself is created and changed only by the migrations in ``migrations/versions``.
"""

from joinedup.storage.engine import make_engine, migrate, session_factory
from joinedup.storage.schema import metadata

__all__ = ["make_engine", "metadata", "migrate", "session_factory"]
