"""Benchmark: FHIR intake (parse, validate, link on arrival, store) into SQLite and PostgreSQL.

Generates a synthetic ICS of ``--people`` residents, then takes its GP practices' FHIR feed
(UK Core transaction bundles) through the intake pipeline, once into a fresh SQLite file and
once into a fresh database on a throwaway PostgreSQL server, with ``--workers`` parsing
processes. Reports resources per second for each, and the ratio. Prints one JSON object.

    .venv/bin/python benchmarks/fhir_ingest.py [--people N] [--workers W]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import psycopg

from joinedup.directory.loader import load_directory
from joinedup.feeds.config import feeds_file_for, load_feed_config
from joinedup.feeds.intake import files_under, ingest_files
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from joinedup.synthetic import generate_ics
from tests.support.postgres import PostgresServer, find_bin_dir


def ingest_into(url: str, files: list[Path], workers: int, var: Path) -> dict[str, float]:
    """Ingest ``files`` into the empty database at ``url``; returns counts and rates."""
    settings = Settings(var_dir=var, database_url=url)
    engine = make_engine(settings)
    migrate(engine)
    config = load_feed_config(feeds_file_for(DEFAULT_DIRECTORY))
    started = time.perf_counter()
    run = ingest_files(session_factory(engine), files, config=config, workers=workers)
    seconds = time.perf_counter() - started
    engine.dispose()
    total = run.report.total
    return {
        "seconds": round(seconds, 2),
        "units": total.accepted,
        "rejected": total.rejected,
        "resources": total.resources,
        "resources_per_second": round(total.resources / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="joinedup-fhir-bench-") as tmp:
        root = Path(tmp)
        generate_ics(
            directory=load_directory(DEFAULT_DIRECTORY),
            people=args.people,
            seed=11,
            years=3,
            out=root / "ics",
        )
        files = [
            f for f in files_under([root / "ics" / "feeds"]) if f.parent.name.startswith("gp-")
        ]
        results = {
            "sqlite": ingest_into(f"sqlite:///{root / 'bench.sqlite'}", files, args.workers, root)
        }
        bin_dir = find_bin_dir()
        if bin_dir is not None:
            server = PostgresServer(bin_dir)
            server.start()
            try:
                with psycopg.connect(server.url().replace("+psycopg", ""), autocommit=True) as c:
                    c.execute("CREATE DATABASE bench")
                results["postgresql"] = ingest_into(server.url("bench"), files, args.workers, root)
            finally:
                server.stop()
    report = {
        "benchmark": "fhir_ingest",
        "people": args.people,
        "workers": args.workers,
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        **results,
    }
    if "postgresql" in results:
        report["postgresql_to_sqlite"] = round(
            results["postgresql"]["resources_per_second"]
            / results["sqlite"]["resources_per_second"],
            2,
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
