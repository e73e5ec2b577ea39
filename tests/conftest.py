"""Fixtures every kind of test can use.

``settings`` gives a test its own empty operational store, once on SQLite and once on a
real PostgreSQL server (started for the run by :mod:`tests.support.postgres`, one fresh
database per test). With ``JOINEDUP_REQUIRE_POSTGRES=1`` (set by ``make test``) a missing
PostgreSQL is an error, not a skip, so CI can never pass without it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.support.postgres import PostgresServer, find_bin_dir

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run, stopped at the end."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL binaries (initdb, pg_ctl) not found; `make test` installs them"
        if os.environ.get("JOINEDUP_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(bin_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of its own for this test: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'joinedup.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = server.url().replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield server.url(name)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a test: its own var folder and its own database (SQLite or PostgreSQL)."""
    return Settings(var_dir=tmp_path / "var", database_url=database_url)


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's own migrated store (SQLite, then PostgreSQL)."""
    engine = make_engine(settings)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the project; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared (third-party test data) is not beside this checkout")
    return SHARED
