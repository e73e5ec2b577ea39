"""Small lakes written directly as Parquet (the lake's own schemas), for measure tests."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from joinedup.population.lake import SCHEMAS, age_band
from joinedup.population.measures import CODE_LISTS


def write_lake(
    folder: Path,
    people: list[dict[str, Any]],
    conditions: list[tuple[str, str]],
    **tables: list[dict[str, Any]],
) -> Path:
    """A lake of ``people`` (person_id, age, sex, and any other person columns; alive and
    registered at L99021 unless given),
    ``conditions`` (person_id, code list name) and, given by table name, any other table's
    rows (the lake's columns); every other table is written empty."""
    folder.mkdir(parents=True, exist_ok=True)
    unknown = set(tables) - set(SCHEMAS)
    if unknown:
        raise ValueError(f"no lake tables called {sorted(unknown)}")
    rows = {
        **{table: tables.get(table, []) for table in SCHEMAS},
        "person": [
            {"died": False, "practice": "L99021", **p, "age_band": age_band(p["age"])}
            for p in people
        ],
        "condition": [
            {"person_id": pid, "partner": "L99021", "code": CODE_LISTS[name][0]}
            for pid, name in conditions
        ],
    }
    for table, items in rows.items():
        pq.write_table(
            pa.Table.from_pylist(items, schema=SCHEMAS[table]), folder / f"{table}.parquet"
        )
    return folder


FACTORS = ("heart_failure", "hypertension", "diabetes", "stroke_tia", "vascular_disease")


#: Code lists that are not part of a wider one (lung cancer is in cancer, stroke in stroke
#: or TIA): a random condition drawn from one of them is only that condition.
_INDEPENDENT_LISTS = tuple(
    name
    for name, codes in CODE_LISTS.items()
    if not any(set(codes) < set(other) for other in CODE_LISTS.values())
)


def random_people(n: int, seed: int) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """``n`` people with random ages, sexes and conditions (AF in about half)."""
    rnd = random.Random(seed)
    people, conditions = [], []
    for i in range(n):
        pid = f"p{i:05d}"
        people.append(
            {"person_id": pid, "age": rnd.randrange(18, 100), "sex": rnd.choice(["female", "male"])}
        )
        for name in _INDEPENDENT_LISTS:
            if rnd.random() < (0.5 if name == "atrial_fibrillation" else 0.2):
                conditions.append((pid, name))
    return people, conditions
