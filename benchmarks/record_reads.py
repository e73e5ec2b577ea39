"""Benchmark: the shared care record's reads, over HTTP, on SQLite and PostgreSQL.

Prepares the demo ICS (generate, take every feed in, link) for ``--people`` residents into
a fresh store, serves it with ``joinedup serve`` in its own process, then from this process:

* latency: for ``--patients`` people registered at the demo GP's practice, one request
  each of ``Patient/{id}/$everything``, an Observation search by patient and code, a
  Condition search by patient, and the single patient view page, one at a time; p50 and
  p95 of the server's own time (its ``Server-Timing`` header) and of the round trip;
* throughput: ``--clients`` threads in a second process (the load generator) read
  ``Patient/{id}`` with the demo GP's bearer token for ``--seconds``; requests per second,
  and the same for ``/fhir/metadata`` (no token, no database) as the ceiling of this
  client and server on the machine, with the ratio between them.

Prints one JSON object.

    PYTHONPATH=. .venv/bin/python benchmarks/record_reads.py [--people N] [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import select

from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.demo import prepare_demo
from joinedup.identity import tables as identity
from joinedup.settings import Settings
from joinedup.storage import make_engine, session_factory
from tests.support.postgres import PostgresServer, find_bin_dir

GP = "demo-gp"
PRACTICE = "L99021"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def registered_people(settings: Settings, limit: int) -> list[str]:
    """Person keys of people whose record came from the demo GP's practice."""
    engine = make_engine(settings)
    s, lk = identity.source_record, identity.link
    with session_factory(engine)() as session:
        keys = session.execute(
            select(lk.c.person_key)
            .join(s, s.c.id == lk.c.source_record_id)
            .where(s.c.partner == PRACTICE, lk.c.valid_to.is_(None))
            .distinct()
            .limit(limit)
        ).scalars()
        found = list(keys)
    engine.dispose()
    return found


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
        "n": len(ordered),
    }


def latency(base: str, token: str, people: list[str]) -> dict[str, Any]:
    """Each kind of read once per person, one at a time: server and round-trip times (ms)."""
    kinds = {
        "everything": lambda p: f"/fhir/Patient/{p}/$everything",
        "search_observation_code": lambda p: (
            f"/fhir/Observation?patient={p}&code=http://snomed.info/sct|271649006"
        ),
        "search_condition": lambda p: f"/fhir/Condition?patient={p}",
        "patient_view_page": lambda p: f"/record/{p}",
    }
    results: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        client.cookies.set("joinedup_session", token)
        headers = {"Authorization": f"Bearer {token}"}
        for name, path in kinds.items():
            server, wall = [], []
            for person in people:
                started = time.perf_counter()
                response = client.get(path(person), headers=headers)
                wall.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {response.status_code}")
                server.append(float(response.headers["server-timing"].split("dur=")[1]))
            results[name] = {"server_ms": percentiles(server), "round_trip_ms": percentiles(wall)}
    return results


def _load(args: tuple[str, str, list[str], int, float]) -> tuple[int, int, float]:
    """The load generator (its own process): threads reading Patient/{id} until time is up
    (or, with no people, the CapabilityStatement: the ceiling of this client and server)."""
    base, token, people, clients, seconds = args
    done = [0] * clients
    failed = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        rng = random.Random(i)
        with httpx.Client(base_url=base, timeout=30) as client:
            headers = {"Authorization": f"Bearer {token}"}
            while time.perf_counter() < stop:
                path = f"/fhir/Patient/{rng.choice(people)}" if people else "/fhir/metadata"
                response = client.get(path, headers=headers)
                if response.status_code == 200:
                    done[i] += 1
                else:
                    failed[i] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done), sum(failed), time.perf_counter() - started


def run(settings: Settings, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    prepare_demo(settings, people=args.people, seed=2026)
    prepared = time.perf_counter() - started
    people = registered_people(settings, args.patients)
    token = DevIdentityProvider(settings).issue(GP, minutes=120)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "joinedup.cli.main",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        timings = latency(base, token, people)
        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            ok, failed, seconds = pool.apply(
                _load, ((base, token, people, args.clients, args.seconds),)
            )
            ceiling, _, ceiling_seconds = pool.apply(
                _load, ((base, token, [], args.clients, args.seconds),)
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "prepare_seconds": round(prepared, 1),
        "people_at_the_practice_read": len(people),
        "latency": timings,
        "authenticated_reads": {
            "requests": ok,
            "failed": failed,
            "seconds": round(seconds, 1),
            "requests_per_second": round(ok / seconds, 1),
            "client_threads": args.clients,
            # The same load generator and server answering GET /fhir/metadata (no token, no
            # database): what this client and framework reach at best on this machine.
            "metadata_requests_per_second": round(ceiling / ceiling_seconds, 1),
            "reads_to_metadata": round((ok / seconds) / (ceiling / ceiling_seconds), 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    report: dict[str, Any] = {
        "benchmark": "record_reads",
        "people": args.people,
        "server_workers": args.workers,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory(prefix="joinedup-record-bench-") as tmp:
        root = Path(tmp)
        if "sqlite" in args.databases:
            var = root / "sqlite-var"
            env = {"JOINEDUP_VAR_DIR": str(var), "JOINEDUP_DEV_IDP": "1"}
            report["sqlite"] = run(Settings(var_dir=var, dev_idp=True), args, env)
        if "postgresql" in args.databases and (bin_dir := find_bin_dir()) is not None:
            pg = PostgresServer(bin_dir)
            pg.start()
            try:
                with psycopg.connect(pg.url().replace("+psycopg", ""), autocommit=True) as c:
                    c.execute("CREATE DATABASE bench")
                var = root / "pg-var"
                url = pg.url("bench")
                env = {
                    "JOINEDUP_VAR_DIR": str(var),
                    "JOINEDUP_DEV_IDP": "1",
                    "JOINEDUP_DATABASE_URL": url,
                }
                report["postgresql"] = run(
                    Settings(var_dir=var, dev_idp=True, database_url=url), args, env
                )
            finally:
                pg.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
