"""The operational store on SQLite and PostgreSQL: migrations, and the directory kept and read back."""

from __future__ import annotations

import dataclasses

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, null, select, update

# Importing each part's tables declares them on the shared metadata.
import joinedup.directory.tables
import joinedup.feeds.tables
import joinedup.identity.tables
import joinedup.records.tables
import joinedup.referrals.tables
import joinedup.virtual_wards.tables  # noqa: F401
from joinedup.directory import tables as directory_tables
from joinedup.directory.model import Directory
from joinedup.directory.profiles import TYPE_PROFILES
from joinedup.directory.store import (
    PopulationCount,
    read_directory,
    read_registered_population,
    save_directory,
    save_registered_population,
)
from joinedup.settings import Settings
from joinedup.storage import make_engine, metadata, migrate, session_factory
from joinedup.storage.engine import alembic_config
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


def _profiled_directory() -> Directory:
    """The small directory with a profile on every service: one its own, the others its type's."""
    directory = small_directory()
    own, *rest = directory.services
    profiled = [
        dataclasses.replace(
            own,
            needs=("fall", "frailty"),
            dispositions=("two_hour",),
            referrers=("gp", "paramedic", "self"),
            sex="female",
        ),
        *(
            dataclasses.replace(
                s,
                needs=TYPE_PROFILES[s.type].needs,
                dispositions=TYPE_PROFILES[s.type].dispositions,
                referrers=TYPE_PROFILES[s.type].referrers,
            )
            for s in rest
        ),
    ]
    return dataclasses.replace(directory, services=tuple(profiled))


def test_service_profiles_round_trip_through_the_store(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as session:
            save_directory(session, _profiled_directory())
            session.commit()
        with sessions() as session:
            directory = read_directory(session)
        assert directory == _profiled_directory()
        assert directory is not None
        own = directory.services[0]
        assert (own.needs, own.dispositions, own.referrers, own.sex) == (
            ("fall", "frailty"),
            ("two_hour",),
            ("gp", "paramedic", "self"),
            "female",
        )
    finally:
        engine.dispose()


def test_a_service_stored_without_a_profile_reads_back_with_its_types(
    settings: Settings,
) -> None:
    engine = make_engine(settings)
    try:
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as session:
            save_directory(session, _profiled_directory())
            session.execute(update(directory_tables.service).values(profile=null()))
            session.commit()
        with sessions() as session:
            service = directory_tables.service
            stored_null = session.scalar(
                select(func.count()).select_from(service).where(service.c.profile.is_(None))
            )
            assert stored_null == len(_profiled_directory().services)  # SQL NULL, not JSON null
            directory = read_directory(session)
        assert directory is not None
        for read in directory.services:
            default = TYPE_PROFILES[read.type]
            assert (read.needs, read.dispositions, read.referrers, read.sex) == (
                default.needs,
                default.dispositions,
                default.referrers,
                None,
            )
    finally:
        engine.dispose()


def test_the_profile_migration_downgrades_and_a_directory_saved_before_it_takes_defaults(
    settings: Settings,
) -> None:
    engine = make_engine(settings)
    try:
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as session:
            save_directory(session, _profiled_directory())
            session.commit()
        command.downgrade(alembic_config(engine), "0005")  # as before services had profiles
        columns = {c["name"] for c in inspect(engine).get_columns("directory_service")}
        assert "profile" not in columns and "type" in columns
        migrate(engine)
        with sessions() as session:
            directory = read_directory(session)
        assert directory is not None
        own = directory.services[0]  # its own profile went with the column: now its type's
        assert own.needs == TYPE_PROFILES[own.type].needs
        assert own.sex is None
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
