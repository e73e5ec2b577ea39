"""The measures on DuckDB, checked by hand, and on Spark (local mode): the same answers."""

from __future__ import annotations

import importlib.util
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from joinedup.population.measures import (
    BRIDGES_TO_HEALTH,
    MULTIMORBIDITY_CONDITIONS,
    Lake,
    bridges_to_health,
    cha2ds2_vasc,
    duckdb_lake,
    efi,
    multimorbidity,
    spark_lake,
    vulnerability,
)
from tests.support.lake import random_people, write_lake

AS_OF = date(2026, 3, 31)


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    people, conditions = random_people(600, seed=11)
    admissions = [
        {"person_id": p["person_id"], "admitted": admitted(2025, 11, 2), "emergency": True}
        for p in people[::7]
    ]
    folder = write_lake(tmp_path_factory.mktemp("lake"), people, conditions, admission=admissions)
    (folder / "conditions.txt").write_text("\n".join(f"{pid} {name}" for pid, name in conditions))
    return folder


def rows(table: Any) -> list[dict[str, Any]]:
    return sorted(table.to_pyarrow().to_pylist(), key=lambda r: r["person_id"])


def test_multimorbidity_counts_each_condition_once(lake_dir: Path) -> None:
    recorded = [line.split() for line in (lake_dir / "conditions.txt").read_text().splitlines()]
    expected = Counter(
        pid for pid, name in {(p, n) for p, n in recorded} if name in MULTIMORBIDITY_CONDITIONS
    )
    result = rows(multimorbidity(duckdb_lake(lake_dir)))
    assert len(result) == 600
    assert {r["person_id"]: r["conditions"] for r in result} == {
        r["person_id"]: expected.get(r["person_id"], 0) for r in result
    }


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
        pytest.skip("needs PySpark and a Java runtime")
    from joinedup.identity.linkage import local_spark_session

    session = local_spark_session(cores=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)
@pytest.mark.parametrize(
    "measure",
    [
        cha2ds2_vasc,
        multimorbidity,
        efi,
        partial(bridges_to_health, as_of=AS_OF),
        partial(vulnerability, as_of=AS_OF),
    ],
    ids=["cha2ds2_vasc", "multimorbidity", "efi", "bridges_to_health", "vulnerability"],
)
def test_spark_gives_what_duckdb_gives(lake_dir: Path, spark: Any, measure: Any) -> None:
    on_duckdb: Lake = duckdb_lake(lake_dir)
    on_spark: Lake = spark_lake(lake_dir, spark)
    expected = rows(measure(on_duckdb))
    assert expected  # the comparison must compare something
    assert rows(measure(on_spark)) == expected


def test_a_keeping_lake_computes_each_measure_once_and_gives_the_same_rows(lake_dir: Path) -> None:
    plain, keeping = duckdb_lake(lake_dir), duckdb_lake(lake_dir).keeping()
    first = vulnerability(keeping, as_of=AS_OF)
    assert vulnerability(keeping, as_of=AS_OF) is first  # held, not built again
    assert vulnerability(keeping, as_of=date(2025, 3, 31)) is not first  # other arguments
    assert efi(plain) is not efi(plain)  # a plain lake keeps nothing
    assert rows(first) == rows(vulnerability(plain, as_of=AS_OF))
    assert rows(efi(keeping)) == rows(efi(plain))


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)
def test_a_keeping_lake_on_spark_gives_what_duckdb_gives(lake_dir: Path, spark: Any) -> None:
    # as a cluster would be given it: a URI, as a string
    on_spark = spark_lake(f"{lake_dir.as_uri()}/", spark).keeping()
    expected = rows(efi(duckdb_lake(lake_dir)))
    assert rows(efi(on_spark)) == expected
    assert rows(efi(on_spark)) == expected  # read back from Spark's cache


def admitted(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


def test_bridges_to_health_takes_the_first_segment_that_applies(tmp_path: Path) -> None:
    """Lynn et al. 2007's eight segments, highest need first (the rules in
    ``bridges_to_health``'s docstring), one person built for each."""
    people = [
        {"person_id": pid, "age": age, "sex": "female"}
        for pid, age in [
            ("dying", 70),
            ("frail", 88),
            ("organ", 72),
            ("disabled", 40),
            ("chronic", 60),
            ("acute", 30),
            ("infant", 0),
            ("healthy", 25),
            ("cancer-no-admission", 60),
            ("copd-no-admission", 60),
        ]
    ]
    conditions = [
        ("dying", "cancer"),
        ("dying", "dementia"),  # end of life comes first
        ("frail", "dementia"),
        ("frail", "heart_failure"),
        ("organ", "heart_failure"),
        ("disabled", "severe_mental_illness"),
        ("disabled", "asthma"),
        ("chronic", "hypertension"),
        ("cancer-no-admission", "cancer"),
        ("copd-no-admission", "copd"),
    ]
    admissions = [
        {"person_id": pid, "admitted": admitted(2025, 12, 1), "emergency": True}
        for pid in ("dying", "frail", "organ", "acute")
    ] + [  # an old one, and a planned one: neither counts
        {"person_id": "healthy", "admitted": admitted(2024, 1, 5), "emergency": True},
        {"person_id": "healthy", "admitted": admitted(2026, 1, 5), "emergency": False},
    ]
    lake = duckdb_lake(write_lake(tmp_path, people, conditions, admission=admissions))
    segments = {r["person_id"]: r for r in rows(bridges_to_health(lake, AS_OF))}
    expected = {
        "dying": 1,
        "frail": 2,
        "organ": 3,
        "disabled": 4,
        "chronic": 5,
        "acute": 6,
        "infant": 7,
        "healthy": 8,
        "cancer-no-admission": 5,  # cancer is a long-term condition until decline
        "copd-no-admission": 5,
    }
    assert {pid: r["segment_order"] for pid, r in segments.items()} == expected
    assert {r["segment"] for r in segments.values()} == set(BRIDGES_TO_HEALTH)
    assert all(r["segment"] == BRIDGES_TO_HEALTH[r["segment_order"] - 1] for r in segments.values())


def test_vulnerability_gives_its_reasons(tmp_path: Path) -> None:
    people = [
        {"person_id": pid, "age": 80, "sex": "male"}
        for pid in ("alone-housebound", "alone", "copd-admitted", "copd", "lung-cancer", "none")
    ]
    conditions = [
        ("alone-housebound", "social_vulnerability"),
        ("alone-housebound", "housebound"),
        ("alone", "social_vulnerability"),
        ("copd-admitted", "copd"),
        ("copd", "copd"),
        ("lung-cancer", "lung_cancer"),
    ]
    admissions = [
        {"person_id": "copd-admitted", "admitted": admitted(2026, 2, 1), "emergency": True}
    ]
    lake = duckdb_lake(write_lake(tmp_path, people, conditions, admission=admissions))
    result = {r["person_id"]: r for r in rows(vulnerability(lake, AS_OF))}
    assert {pid for pid, r in result.items() if r["vulnerable"]} == {
        "alone-housebound",
        "copd-admitted",
        "lung-cancer",
    }
    assert result["alone-housebound"]["alone_and_housebound"] == 1
    assert result["copd-admitted"]["severe_respiratory"] == 1
    assert result["lung-cancer"]["lung_cancer"] == 1
    assert result["copd"]["severe_respiratory"] == 0
