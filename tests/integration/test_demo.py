"""The demo preparation: a small synthetic ICS generated, loaded into the store, reused next time."""

from __future__ import annotations

import duckdb

from joinedup.demo import prepare_demo
from joinedup.directory.store import read_directory, read_registered_population
from joinedup.settings import Settings
from joinedup.storage import make_engine, session_factory


def test_demo_generates_loads_and_then_reuses(settings: Settings) -> None:
    first = prepare_demo(settings, people=300, seed=3, years=1)
    assert first.generated
    assert first.areas == 3 and first.organisations > 50 and first.services > 20
    # Every synthetic feed went through the intake pipeline, and every unit was taken.
    assert first.ingest["accepted"] > 300 and first.ingest["rejected"] == 0
    assert first.ingest["unknown_files"] == ["icb-QT6/finance/ledger.csv"]
    assert first.linkage["source_records"] >= 300 and first.linkage["model_trained"]

    engine = make_engine(settings)
    try:
        with session_factory(engine)() as session:
            directory = read_directory(session)
            population = read_registered_population(session)
    finally:
        engine.dispose()
    assert directory is not None and directory.icb == "QT6"
    # Registered patients at the period end: the living, registered people of the 300.
    assert 250 <= population.total <= 320
    assert set(population.by_practice()) <= {p.ods_code for p in directory.practices}
    # The analysts' lake is there, without the people who opted out.
    opted_out = (settings.synthetic_dir / "published" / "national-data-opt-outs.csv").read_text()
    [(in_lake,)] = duckdb.sql(
        f"select count(*) from '{settings.lake_dir}/person.parquet'"
    ).fetchall()
    assert 0 < in_lake <= 300 - (len(opted_out.splitlines()) - 1)

    second = prepare_demo(settings, people=300, seed=3, years=1)
    assert not second.generated
    assert second.registered_patients == first.registered_patients

    third = prepare_demo(settings, people=300, seed=4, years=1)
    assert third.generated
