"""The same linkage on Spark (local mode) gives the same persons as on DuckDB.

One model, trained on DuckDB, links ``fake_1000`` on both backends. Match probabilities
can differ slightly: Splink's Spark Jaro-Winkler (a Scala UDF) and DuckDB's built-in one
disagree in the last decimals, which moves a few pairs across a similarity threshold.
The persons (clusters) must not change.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from joinedup.identity.evaluate import pairwise_quality
from joinedup.identity.linkage import link, local_spark_session, train

pytestmark = [
    pytest.mark.spark,
    # PySpark 4.0's toPandas() passes astype(copy=False), which pandas 3 deprecates.
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    # Py4J leaves its loopback socket to the JVM gateway for the garbage collector.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
        reason="needs PySpark and a Java runtime",
    ),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = local_spark_session(cores=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def fake_1000(shared_dir: Path) -> pd.DataFrame:
    raw = pd.read_csv(shared_dir / "data" / "splink" / "fake_1000.csv", dtype=str)
    return raw.rename(
        columns={
            "first_name": "given_name",
            "surname": "family_name",
            "dob": "birth_date",
            "city": "postcode",
        }
    ).assign(source="fake_1000")


def test_spark_gives_the_same_persons_as_duckdb(fake_1000: pd.DataFrame, spark: Any) -> None:
    records = fake_1000.drop(columns=["cluster"])
    model = train(records)  # DuckDB: the reference engine

    on_duckdb = link(records, model)
    on_spark = link(records, model, backend="spark", connection=spark)

    pd.testing.assert_frame_equal(on_spark.persons, on_duckdb.persons)
    truth = fake_1000.set_index("unique_id")["cluster"]
    quality = pairwise_quality(on_spark.persons.set_index("unique_id")["person_key"], truth)
    assert quality.f1 >= 0.9
    # Nearly every link is the same pair on both engines (see the module docstring).
    pairs = ["unique_id_l", "unique_id_r"]
    both = on_duckdb.links[pairs].merge(on_spark.links[pairs], how="inner")
    assert len(both) >= 0.99 * len(on_duckdb.links)
