"""Population health end to end on a synthetic ICS: generated prevalence is recovered.

A small synthetic ICS goes through everything a real one would (every partner's feed taken
in through the intake pipeline, the person index linked with Splink, the lake refreshed,
the population run); then the registers the needs assessment counts are held against the
generator's own truth: who, alive and registered at the end, has which condition.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from joinedup.demo import prepare_demo
from joinedup.population.measures import CODE_LISTS, duckdb_lake
from joinedup.population.needs import PREVALENCE_CONDITIONS, assess_needs
from joinedup.population.run import COHORTS, NEEDS, PERSON_MEASURES
from joinedup.settings import Settings
from joinedup.synthetic import codes
from joinedup.synthetic.generate import default_directory, period_for
from joinedup.synthetic.population import build_geography, draw_people

PEOPLE, SEED, YEARS = 2000, 5, 2
END = date(2026, 3, 31)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(var_dir=tmp_path_factory.mktemp("synthetic-ics") / "var")
    prepare_demo(settings, people=PEOPLE, seed=SEED, years=YEARS)
    return settings


def truth(settings: Settings) -> tuple[int, Counter[str]]:
    """From the generator: people alive and registered on the last day, without a National
    Data Opt-out, and how many have each register's condition (of the register's age)."""
    with (settings.synthetic_dir / "published" / "national-data-opt-outs.csv").open() as f:
        opted_out = {row["nhs_number"] for row in csv.DictReader(f)}
    people = draw_people(
        geography=build_geography(default_directory(), SEED),
        period=period_for(END, YEARS),
        seed=SEED,
        chunk=0,
        first_index=0,
        count=PEOPLE,
    )
    registers = {c.key: c for c in PREVALENCE_CONDITIONS}
    counts: Counter[str] = Counter()
    population = 0
    for person in people:
        registered = any(r.end is None for r in person.registrations)
        if person.death_date or not registered or person.nhs_number in opted_out:
            continue
        population += 1
        age = person.age_on(END)
        codes_held = {codes.CONDITIONS[d.condition].code.code for d in person.diagnoses}
        for key, register in registers.items():
            if age >= register.min_age and codes_held & set(CODE_LISTS[key]):
                counts[key] += 1
    return population, counts


def test_generated_prevalence_is_recovered(demo: Settings) -> None:
    population, expected = truth(demo)
    needs = assess_needs(duckdb_lake(demo.lake_dir), END)
    # Linkage may split or join the odd person; the population is within 2%.
    assert needs.population == pytest.approx(population, rel=0.02)
    recorded = {p.key: p.recorded for p in needs.prevalence}
    for key, count in expected.items():
        if count >= 20:  # a register big enough to compare
            assert recorded[key] == pytest.approx(count, rel=0.05, abs=3), key
    assert sum(expected.values()) > 500


def test_the_demo_ran_population_health(demo: Settings) -> None:
    out = demo.population_dir
    measures = pq.read_table(out / PERSON_MEASURES).to_pylist()
    assert len(measures) > PEOPLE * 0.8
    assert {"segment", "efi_category", "vulnerable", "cha2ds2_vasc"} <= set(measures[0])
    assert (out / COHORTS).is_file() and (out / NEEDS).is_file()
    # Two years of history: enough to train the risk model; everyone alive has a score.
    scored = sum(m["risk"] is not None for m in measures)
    assert scored > 0.9 * len(measures)
    categories = Counter(m["efi_category"] for m in measures)
    assert categories["moderate"] + categories["severe"] > 0  # every eFI deficit is coded


def test_the_measures_are_per_person_and_pseudonymised(demo: Settings) -> None:
    raw = (demo.population_dir / PERSON_MEASURES).read_bytes()
    first = Path(demo.synthetic_dir / "truth" / "records.csv").read_text().splitlines()[1]
    local_id = first.split(",")[2]
    assert local_id.encode() not in raw


def test_the_lake_holds_hospital_pathways_and_departments(demo: Settings) -> None:
    import duckdb

    def rows(sql: str) -> list[tuple[object, ...]]:
        return duckdb.sql(sql.replace("LAKE", str(demo.lake_dir))).fetchall()

    assert rows("select count(*) from 'LAKE/rtt_pathway.parquet'")[0][0] > 100
    assert rows(
        "select count(*) from 'LAKE/rtt_pathway.parquet' where clock_stop < clock_start"
    ) == [(0,)]
    assert rows("select count(*) from 'LAKE/cancer_pathway.parquet'")[0][0] > 10
    assert rows(
        "select count(*) from 'LAKE/cancer_pathway.parquet' "
        "where first_treatment < referral or faster_diagnosis < referral"
    ) == [(0,)]
    departments = {
        d for (d,) in rows("select distinct department_type from 'LAKE/ae_attendance.parquet'")
    }
    assert departments == {"1", "3"}  # the emergency department, the UTC and the MIUs
