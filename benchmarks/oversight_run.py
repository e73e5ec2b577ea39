"""Benchmark: system oversight on a prepared synthetic ICS (full size: 570,000 people).

1. ``refresh_oversight``: every indicator of the catalogue, every month of three years, for
   the system, each partner and each area, from the lake (target <= 10 s on 2 cores).
2. The dashboard served by ``joinedup serve`` in its own process: the summary matrix (for
   the system, a partner and an area) and an indicator's SPC page, requested one at a time
   as the analyst; p50 and p95 of the server's own time (``Server-Timing``) after one
   warm-up request each (target: dashboard p95 <= 300 ms).

Prints one JSON object.

    PYTHONPATH=. .venv/bin/python benchmarks/oversight_run.py --var /path/to/var [--requests 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.directory.store import read_directory
from joinedup.oversight.run import refresh_oversight
from joinedup.population.lake import lake_as_of
from joinedup.population.measures import duckdb_lake
from joinedup.settings import Settings
from joinedup.storage import make_engine, session_factory

PAGES = (
    "/oversight",
    "/oversight?drill=partner|REF",
    "/oversight?drill=area|west",
    "/oversight/indicators/ae_4h_all",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
        "max": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--var", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    settings = Settings(var_dir=args.var, dev_idp=True)
    as_of = lake_as_of(settings.lake_dir)
    if as_of is None:
        raise SystemExit(f"no lake in {settings.lake_dir}")
    engine = make_engine(settings)
    with session_factory(engine)() as session:
        directory = read_directory(session)
    engine.dispose()
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": date.today().isoformat(),
        "load_average_at_start": os.getloadavg(),
    }
    began = time.perf_counter()
    run = refresh_oversight(
        duckdb_lake(settings.lake_dir),
        directory=directory,
        out_dir=settings.oversight_dir,
        as_of=as_of,
        catalogue=settings.indicator_catalogue,
    )
    report["refresh"] = {**run.to_dict(), "wall_seconds": round(time.perf_counter() - began, 2)}

    token = DevIdentityProvider(settings).issue("demo-analyst", minutes=120)
    port = free_port()
    env = {**os.environ, "JOINEDUP_VAR_DIR": str(args.var), "JOINEDUP_DEV_IDP": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "joinedup.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.3)
        pages: dict[str, Any] = {}
        with httpx.Client(base_url=base, cookies={"joinedup_session": token}, timeout=60) as client:
            for page in PAGES:
                first = client.get(page)
                assert first.status_code == 200, (page, first.status_code)
                server_ms = []
                for _ in range(args.requests):
                    response = client.get(page)
                    timing = response.headers["server-timing"]
                    server_ms.append(float(timing.split("dur=")[1]))
                pages[page] = percentiles(server_ms)
        report["pages_server_ms"] = pages
    finally:
        server.terminate()
        server.wait(timeout=30)
    report["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
