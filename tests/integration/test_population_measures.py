"""The measures on DuckDB, checked by hand, and on Spark (local mode): the same answers."""

from __future__ import annotations

import importlib.util
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from joinedup.population.measures import (
    MULTIMORBIDITY_CONDITIONS,
    Lake,
    cha2ds2_vasc,
    duckdb_lake,
    efi,
    multimorbidity,
    spark_lake,
)
from tests.support.lake import random_people, write_lake


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    people, conditions = random_people(600, seed=11)
    folder = write_lake(tmp_path_factory.mktemp("lake"), people, conditions)
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
@pytest.mark.parametrize("measure", [cha2ds2_vasc, multimorbidity, efi])
def test_spark_gives_what_duckdb_gives(lake_dir: Path, spark: Any, measure: Any) -> None:
    on_duckdb: Lake = duckdb_lake(lake_dir)
    on_spark: Lake = spark_lake(lake_dir, spark)
    expected = rows(measure(on_duckdb))
    assert expected  # the comparison must compare something
    assert rows(measure(on_spark)) == expected
