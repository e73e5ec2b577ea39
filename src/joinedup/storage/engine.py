"""Engines, sessions and migrations for the operational store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from joinedup.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _json_dumps(value: Any) -> str:
    # orjson is several times faster than json for the FHIR resources the record stores.
    return orjson.dumps(value).decode()


def make_engine(settings: Settings) -> Engine:
    """An engine for the operational store the settings name.

    For the embedded SQLite file this creates its folder and turns on foreign keys and
    write-ahead logging (readers don't block the writer while the web app serves). JSON
    columns are written and read with orjson on every backend.
    """
    url = settings.operational_url
    if url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=_json_dumps, json_deserializer=orjson.loads)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL loses no committed data on a crash of the process (only,
            # possibly, the last commits on a power cut) and is much faster than FULL.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(
        url, pool_pre_ping=True, json_serializer=_json_dumps, json_deserializer=orjson.loads
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; sessions don't expire objects on commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """The Alembic configuration for JoinedUp's migrations, bound to ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the store's schema up to ``revision`` (the latest by default)."""
    command.upgrade(alembic_config(engine), revision)
