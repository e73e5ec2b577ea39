"""The operational store on SQLite and PostgreSQL: migrations, and the directory kept and read back."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

# Importing each part's tables declares them on the shared metadata.
import joinedup.directory.tables
import joinedup.feeds.tables
import joinedup.identity.tables
import joinedup.records.tables
import joinedup.referrals.tables  # noqa: F401
from joinedup.directory.store import (
    PopulationCount,
    read_directory,
    read_registered_population,
    save_directory,
    save_registered_population,
)
from joinedup.settings import Settings
from joinedup.storage import make_engine, metadata, migrate, session_factory
from tests.support.directories import small_directory


def test_migrations_create_exactly_the_declared_schema(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        migrate(engine)
        assert "directory_service" in inspect(engine).get_table_names()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            differences = compare_metadata(context, metadata)
        assert differences == [], f"migrations and table declarations disagree: {differences}"
    finally:
        engine.dispose()


def test_migrating_twice_is_harmless(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        migrate(engine)
        migrate(engine)
    finally:
        engine.dispose()


def test_directory_round_trips_through_the_store(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as session:
            assert read_directory(session) is None
            save_directory(session, small_directory())
            session.commit()
        # Saving again replaces rather than duplicates.
        with sessions() as session:
            save_directory(session, small_directory())
            session.commit()
        with sessions() as session:
            assert read_directory(session) == small_directory()
    finally:
        engine.dispose()


def test_registered_population_round_trips(settings: Settings) -> None:
    engine = make_engine(settings)
    counts = [
        PopulationCount("L00001", "female", "85+", 120),
        PopulationCount("L00001", "male", "0-4", 200),
        PopulationCount("L00002", "female", "65-69", 300),
    ]
    try:
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as session:
            save_registered_population(session, counts)
            session.commit()
        with sessions() as session:
            population = read_registered_population(session)
        assert population.total == 620
        assert list(population.by_age_band()) == ["0-4", "65-69", "85+"]
        assert population.by_practice() == {"L00001": 320, "L00002": 300}
        assert population.share_aged(65) == (120 + 300) / 620
    finally:
        engine.dispose()
