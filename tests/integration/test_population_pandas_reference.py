"""The benchmark's pandas reference gives what the Ibis measures and cohorts give on DuckDB.

Issue 5's benchmark times the population run on DuckDB against the same measures written
in plain pandas (``benchmarks/population_pandas.py``); the ratio only means something if
both compute the same thing. Random lakes, with dates on and either side of every window's
edges, missing values where the lake allows them, and rows for people who have no person
row, are run through both: the same rows for every measure, the same attrition and the
same people for every shipped cohort and for cohorts that use every other rule kind.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from benchmarks import population_pandas as reference

from joinedup.population import cohorts, measures
from joinedup.population.lake import SCHEMAS, age_band
from tests.support.lake import write_lake

AS_OF = date(2026, 3, 31)

# Days from the as-of date: on and either side of the 12-month windows' edges (365 days
# back; emergency admissions exclude the first day, the other windows include it), of the
# as-of date itself, and a few ordinary days, some repeated so readings tie on a date.
OFFSETS = (0, 1, -1, -364, -365, -366, -30, -30, -180, -180, -500, -730, 40)

OTHER_MEDICINES = tuple(f"med-{i}" for i in range(8))


def _code(rnd: random.Random, name: str, others: tuple[str, ...]) -> str | None:
    """A code of the list ``name`` (any of its codes) most of the time, else another one."""
    roll = rnd.random()
    if roll < 0.05:
        return None
    if roll < 0.65:
        return rnd.choice(cohorts.CODE_LISTS[name])
    return rnd.choice(others)


def _day(rnd: random.Random) -> date | None:
    return None if rnd.random() < 0.04 else AS_OF + timedelta(days=rnd.choice(OFFSETS))


def _instant(rnd: random.Random) -> datetime | None:
    """A UTC time on one of the days, at the first or last second of it or midday."""
    day = _day(rnd)
    if day is None:
        return None
    at = rnd.choice((time(0, 0, 0), time(12, 0), time(23, 59, 59)))
    return datetime.combine(day, at, tzinfo=UTC)


def random_lake(folder: Path, n: int, seed: int) -> Path:
    """A lake of ``n`` people and events of every kind the measures and cohorts read."""
    rnd = random.Random(seed)
    people: list[dict[str, Any]] = []
    conditions: list[tuple[str, str]] = []
    tables: dict[str, list[dict[str, Any]]] = {
        t: [] for t in ("medication", "observation", "immunisation", "encounter")
    } | {"admission": [], "ae_attendance": []}
    # A few ids with events but no person row: joins and filters must treat them as Ibis does.
    ids = [f"p{i:04d}" for i in range(n)]
    orphans = [f"x{i}" for i in range(5)]
    names = list(measures.CODE_LISTS)
    for pid in ids:
        age = rnd.choice((0, 1, 17, 18, 64, 65, 74, 75, 79, 80)) if rnd.random() < 0.3 else None
        if age is None and rnd.random() < 0.95:
            age = rnd.randrange(0, 100)
        people.append(
            {
                "person_id": pid,
                "age": age,
                "sex": rnd.choice(("female", "male", "female", "male", "unknown", None)),
                "practice": None if rnd.random() < 0.05 else "L99021",
                "core20": rnd.choice((True, False, False, None)),
                "died": rnd.choice((False,) * 12 + (True, None)),
            }
        )
    for pid in ids + orphans:
        # How much a person has recorded: most little, some a lot (moderate and severe eFI).
        burden = rnd.random() ** 2 * 0.8
        conditions += [(pid, name) for name in names if rnd.random() < burden]
        conditions += [(pid, rnd.choice(names)) for _ in range(rnd.randrange(2))]  # repeats
        for _ in range(rnd.randrange(0, 10 if burden > 0.3 else 4)):
            tables["medication"].append(
                {
                    "person_id": pid,
                    "kind": "request",
                    "code": _code(rnd, "anticoagulants", OTHER_MEDICINES),
                    "status": rnd.choice(("active", "active", "stopped", "completed", None)),
                    "issued": _day(rnd),
                }
            )
        for _ in range(rnd.randrange(0, 6)):
            tables["observation"].append(
                {
                    "person_id": pid,
                    "code": _code(
                        rnd, rnd.choice(("systolic_blood_pressure", "hba1c")), ("other-obs",)
                    ),
                    "effective": _day(rnd),
                    "value": rnd.choice(
                        (None, 50.0, 58.0, 58.5, 139.0, 140.0, 149.9, 150.0, 170.0)
                    ),
                }
            )
        for _ in range(rnd.randrange(0, 3)):
            tables["immunisation"].append(
                {
                    "person_id": pid,
                    "code": _code(rnd, "flu_vaccination", ("other-vaccine",)),
                    "administered": _day(rnd),
                }
            )
        for _ in range(rnd.randrange(0, 4)):
            review = rnd.choice(("diabetes_review", "smi_health_check"))
            tables["encounter"].append(
                {
                    "person_id": pid,
                    "class": "AMB",
                    "type_code": _code(rnd, review, ("other-encounter",)),
                    "start": _instant(rnd),
                }
            )
        for _ in range(rnd.choice((0, 0, 1, 2, 3))):
            tables["admission"].append(
                {
                    "person_id": pid,
                    "admitted": _instant(rnd),
                    "emergency": rnd.choice((True, True, False, None)),
                }
            )
        for _ in range(rnd.choice((0, 0, 1, 2))):
            tables["ae_attendance"].append({"person_id": pid, "arrival": _instant(rnd)})
    folder = write_lake(folder, [{**p, "age": 0} for p in people], conditions, **tables)
    # write_lake needs an age for the band; the lake may have none, so write people again.
    rows = [{**p, "age_band": age_band(p["age"]) if p["age"] is not None else None} for p in people]
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMAS["person"]), folder / "person.parquet")
    return folder


def ibis_rows(table: Any) -> list[dict[str, Any]]:
    return sorted(table.to_pyarrow().to_pylist(), key=lambda r: r["person_id"])


def pandas_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as Python values: missing (NA, NaN, None) as None, numpy scalars unboxed."""

    def value(v: Any) -> Any:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return None
        return v.item() if hasattr(v, "item") else v

    records = frame.to_dict("records")
    return sorted(
        ({k: value(v) for k, v in r.items()} for r in records), key=lambda r: r["person_id"]
    )


def assert_same_types(table: Any, frame: pd.DataFrame) -> None:
    """Integers where Ibis gives integers, floats where floats, strings where strings."""
    schema = table.schema()
    assert list(frame.columns) == list(schema.names)
    for name, dtype in schema.items():
        column = frame[name]
        if dtype.is_integer():
            assert pd.api.types.is_integer_dtype(column), name
        elif dtype.is_floating():
            assert pd.api.types.is_float_dtype(column), name
        elif dtype.is_string():
            assert pd.api.types.is_string_dtype(column), name


#: Cohorts for the rule kinds the shipped ones don't use (or use only one way).
EXTRA_COHORTS = {
    # The costly measures come last in a cohort: each rule's count runs the rules before it.
    "segments.yaml": """
name: any_of, then segments
entry: {person: {age_below: 200}}
rules:
  - name: Anticoagulated this year, a high HbA1c, or no flu vaccination
    with:
      any_of:
        - {medication: anticoagulants, within_days: 365}
        - {observation: hba1c, within_days: 365, last_above: 58}
        - without: {immunisation: flu_vaccination, within_days: 365}
  - name: Chronic, frail, acutely ill or healthy
    with:
      measure: bridges_to_health
      segment_in: [Stable chronic conditions, Long-term frailty,
                   "Acutely ill, likely to recover", Healthy]
""",
    "windows.yaml": """
name: Windows and counts, then vulnerability
entry: {emergency_admissions: 1}
rules:
  - name: Outside the Core20
    with: {person: {core20: false}}
  - name: A diabetes review in two years
    without: {encounter: diabetes_review, within_days: 730}
  - name: A flu vaccination in a year
    with: {immunisation: flu_vaccination, within_days: 365}
  - name: Ever prescribed an anticoagulant
    without: {medication: anticoagulants}
  - name: Not vulnerable
    without: {measure: vulnerability}
""",
    "scores.yaml": """
name: Readings, then scores
entry: {any_of: [{condition: atrial_fibrillation}, {condition: hypertension}]}
rules:
  - name: A systolic ever
    with: {observation: systolic_blood_pressure}
  - name: The last systolic in a year above 140
    with: {observation: systolic_blood_pressure, within_days: 365, last_above: 140}
  - name: Not two emergency admissions in a year
    without: {emergency_admissions: 2, within_days: 365}
  - name: CHA2DS2-VASc 1 or more
    measure: cha2ds2_vasc
    at_least: 1
""",
    "frail-or-lost.yaml": """
name: Mild or severe frailty, or no vaccination, or no check
entry:
  any_of:
    - {measure: efi, category_in: [mild, severe]}
    - without: {immunisation: flu_vaccination}
    - without: {encounter: smi_health_check, within_days: 365}
rules:
  - name: Under 75, 18 and over
    with: {person: {age_at_least: 18, age_below: 75}}
  - name: Currently on an anticoagulant
    with: {medication: anticoagulants, current: true}
""",
}


def cohort_definitions(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every shipped cohort and the extra ones, each read and checked by ``load_cohort``."""
    for name, text in EXTRA_COHORTS.items():
        (folder / name).write_text(text)
    paths = sorted(cohorts.SHIPPED_COHORTS.glob("*.yaml")) + [folder / n for n in EXTRA_COHORTS]
    return [(path.stem, cohorts.load_cohort(path)) for path in paths]


MEASURES = [
    ("cha2ds2_vasc", measures.cha2ds2_vasc, reference.cha2ds2_vasc),
    ("efi", measures.efi, reference.efi),
    ("multimorbidity", measures.multimorbidity, reference.multimorbidity),
    (
        "emergency_admissions",
        partial(measures.emergency_admissions, as_of=AS_OF),
        partial(reference.emergency_admissions, as_of=AS_OF),
    ),
    (
        "emergency_admissions_30_days",
        partial(measures.emergency_admissions, as_of=AS_OF, days=30),
        partial(reference.emergency_admissions, as_of=AS_OF, days=30),
    ),
    (
        "bridges_to_health",
        partial(measures.bridges_to_health, as_of=AS_OF),
        partial(reference.bridges_to_health, as_of=AS_OF),
    ),
    (
        "vulnerability",
        partial(measures.vulnerability, as_of=AS_OF),
        partial(reference.vulnerability, as_of=AS_OF),
    ),
]


@pytest.fixture(scope="module", params=[1, 2], ids=lambda seed: f"seed{seed}")
def lakes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = random_lake(tmp_path_factory.mktemp("lake"), n=400, seed=request.param)
    return folder, measures.duckdb_lake(folder), reference.read_lake(folder)


@pytest.mark.parametrize(("name", "on_ibis", "on_pandas"), MEASURES, ids=[m[0] for m in MEASURES])
def test_every_measure_gives_the_ibis_rows(
    lakes: Any, name: str, on_ibis: Any, on_pandas: Any
) -> None:
    _, ibis_lake, pandas_lake = lakes
    table = on_ibis(ibis_lake)
    frame = on_pandas(pandas_lake)
    expected = ibis_rows(table)
    assert len(expected) >= 10  # the comparison compares something
    assert_same_types(table, frame)
    assert pandas_rows(frame) == [pytest.approx(row) for row in expected]


# One lake for the cohorts: Ibis compiles each rule's whole chain again for its count,
# which is what takes the time (the pandas side takes a few milliseconds).
@pytest.mark.parametrize("lakes", [1], indirect=True, ids=["seed1"])
def test_every_cohort_gives_the_ibis_attrition_and_people(lakes: Any, tmp_path: Path) -> None:
    _, ibis_lake, pandas_lake = lakes
    removed_somewhere = 0
    for name, definition in cohort_definitions(tmp_path):
        result = cohorts.run_cohort(definition, ibis_lake, AS_OF)
        expected = [(s.rule, s.remaining, s.removed) for s in result.attrition]
        people = {r["person_id"] for r in result.people.to_pyarrow().to_pylist()}
        attrition, found = reference.run_cohort(definition, pandas_lake, AS_OF)
        assert attrition == expected, name
        assert found == people, name
        assert expected[0][1] > 0, name  # someone enters every cohort
        removed_somewhere += sum(1 for _, _, removed in expected if removed)
    assert removed_somewhere >= 15  # and rules remove people, so they are compared too


@pytest.mark.parametrize("lakes", [2], indirect=True, ids=["seed2"])
def test_run_all_runs_every_measure_and_shipped_cohort(lakes: Any) -> None:
    folder, _, pandas_lake = lakes
    results = reference.run_all(folder, AS_OF)
    assert {name: len(frame) for name, frame in results["measures"].items()} == {
        name: len(run(pandas_lake)) for name, _, run in MEASURES if name in results["measures"]
    }
    assert set(results["measures"]) == {name for name, _, _ in MEASURES} - {
        "emergency_admissions_30_days"
    }
    shipped = sorted(cohorts.SHIPPED_COHORTS.glob("*.yaml"))
    assert list(results["cohorts"]) == [path.stem for path in shipped]
    for path in shipped:
        definition = cohorts.load_cohort(path)
        attrition, people = reference.run_cohort(definition, pandas_lake, AS_OF)
        assert results["cohorts"][path.stem] == {
            "name": definition["name"],
            "attrition": attrition,
            "people": people,
        }
