"""Benchmark: the whole population run on a synthetic ICS's lake, on DuckDB, pandas and Spark.

Reads a prepared var folder (the operational store and its lake: `joinedup demo --people
570000 --no-serve` with ``JOINEDUP_VAR_DIR`` set makes a full-size one) and times, in one
run so the comparisons are ratios on the same machine state:

1. the lake refresh from the operational store, from scratch (into a new folder);
2. the whole population run on DuckDB (``run_population``: risk model training, every
   person's measures, the shipped cohorts, the needs assessment), lake refresh excluded;
3. the same measures and cohorts three ways: Ibis on DuckDB, a straightforward pandas
   implementation (``benchmarks/population_pandas.py``, held to the same answers by
   ``tests/integration/test_population_pandas_reference.py``), and, with ``--spark``, Ibis
   on Spark in local mode; each result is materialised (fetched) so the engines do the work.

Prints one JSON object; peak memory is this process's resident set (DuckDB and pandas in
it; Spark's JVM is a separate process and not counted).

    PYTHONPATH=. .venv/bin/python benchmarks/population_run.py --var /path/to/var [--spark]

Target (issue 5): the whole population run on the full-size ICS (570,000 people) <= 30 s on
2 cores on DuckDB, lake refresh excluded; then included.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import population_pandas

from joinedup.population import measures
from joinedup.population.cohorts import SHIPPED_COHORTS, load_cohort, run_cohort
from joinedup.population.lake import lake_as_of, refresh_lake
from joinedup.population.measures import Lake, duckdb_lake, spark_lake
from joinedup.population.run import run_population
from joinedup.settings import Settings
from joinedup.storage import make_engine, session_factory


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = work()
    return time.perf_counter() - began, result


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ibis_measures_and_cohorts(lake: Lake, as_of: date) -> dict[str, Any]:
    """The set the pandas implementation computes, materialised on the engine."""
    out: dict[str, Any] = {
        "cha2ds2_vasc": measures.cha2ds2_vasc(lake).to_pyarrow(),
        "efi": measures.efi(lake).to_pyarrow(),
        "multimorbidity": measures.multimorbidity(lake).to_pyarrow(),
        "emergency_admissions": measures.emergency_admissions(lake, as_of).to_pyarrow(),
        "bridges_to_health": measures.bridges_to_health(lake, as_of).to_pyarrow(),
        "vulnerability": measures.vulnerability(lake, as_of).to_pyarrow(),
    }
    for path in sorted(SHIPPED_COHORTS.glob("*.yaml")):
        run = run_cohort(load_cohort(path), lake, as_of)
        out[path.stem] = (run.attrition, run.people.to_pyarrow())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--var", type=Path, required=True, help="a prepared var folder")
    parser.add_argument("--spark", action="store_true", help="also time Spark in local mode")
    parser.add_argument("--skip-refresh", action="store_true", help="don't time the refresh")
    args = parser.parse_args()

    settings = Settings(var_dir=args.var)
    as_of = lake_as_of(settings.lake_dir)
    if as_of is None:
        raise SystemExit(f"no lake in {settings.lake_dir}: prepare the var folder first")
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "date": date.today().isoformat(),
        "as_of": as_of.isoformat(),
    }
    scratch = Path(tempfile.mkdtemp(prefix="population-bench-"))
    try:
        if not args.skip_refresh:
            fresh = scratch / "lake"
            fresh.mkdir()
            shutil.copy(settings.lake_dir / ".pseudonym-key", fresh / ".pseudonym-key")
            engine = make_engine(settings)
            with session_factory(engine)() as session:
                seconds, run = timed(
                    lambda: refresh_lake(
                        session, fresh, reference_dir=settings.reference_path, as_of=as_of
                    )
                )
            engine.dispose()
            report["lake_refresh"] = {
                "seconds": round(seconds, 2),
                "people": run.people,
                "rows": run.written,
            }

        lake = duckdb_lake(settings.lake_dir)
        seconds, done = timed(lambda: run_population(lake, as_of, out_dir=scratch / "population"))
        report["duckdb_population_run"] = {
            "seconds": round(seconds, 2),
            "steps": {k: round(v, 2) for k, v in done.seconds.items()},
            "people": done.people,
            "risk_auc": done.risk_model.performance.auc if done.risk_model else None,
            "baseline_auc": done.risk_model.baseline_performance.auc if done.risk_model else None,
        }
        if "lake_refresh" in report:
            report["duckdb_population_run"]["with_lake_refresh_seconds"] = round(
                seconds + report["lake_refresh"]["seconds"], 2
            )

        lake = duckdb_lake(settings.lake_dir)  # a new connection: nothing cached
        duck_seconds, _ = timed(lambda: ibis_measures_and_cohorts(lake, as_of))
        pandas_seconds, _ = timed(lambda: population_pandas.run_all(settings.lake_dir, as_of))
        report["measures_and_cohorts"] = {
            "duckdb_seconds": round(duck_seconds, 2),
            "pandas_seconds": round(pandas_seconds, 2),
            "pandas_over_duckdb": round(pandas_seconds / duck_seconds, 2),
        }
        report["peak_memory_mib"] = round(peak_mib())

        if args.spark:
            from joinedup.identity.linkage import local_spark_session

            began = time.perf_counter()
            spark = local_spark_session(cores=os.cpu_count() or 2)
            spark.sparkContext.setLogLevel("ERROR")
            start_seconds = time.perf_counter() - began
            on_spark = spark_lake(settings.lake_dir, spark)
            spark_seconds, _ = timed(lambda: ibis_measures_and_cohorts(on_spark, as_of))
            spark.stop()
            report["measures_and_cohorts"].update(
                {
                    "spark_session_start_seconds": round(start_seconds, 2),
                    "spark_seconds": round(spark_seconds, 2),
                    "spark_over_duckdb": round(spark_seconds / duck_seconds, 2),
                }
            )
        report["load_average_at_end"] = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
