"""Benchmark: sustained referral intake over BaRS (``POST /fhir/$process-message``).

Prepares a fresh store in a temporary var folder (SQLite, or ``--database-url`` for
PostgreSQL): migrated, the shipped directory loaded, and ``--people`` synthetic people
taken in through the feeds pipeline (one NDJSON message of Patients from the demo GP's
practice, with valid NHS numbers from the 999 test range and postcodes in the ICS's
places). Serves it with ``joinedup serve`` in its own process, then sends BaRS referral
messages (unique MessageHeader ids, random need and urgency, a real person's NHS number and
date of birth) as the demo GP at ``--rate`` a second for ``--seconds`` from ``--clients``
threads. Each message has a slot in an even schedule; a thread sends it at its time, or at
once if it is behind, so when the server cannot keep up the achieved rate is its capacity.

Reports the achieved rate, errors (non-200 answers), latency (p50/p95/p99 of the round
trip from sending, and from the message's slot in the schedule, which counts waiting), and
checks the database afterwards: the referrals stored and their audit entries. Then, as a
secondary measurement, profiles ``Centre.take`` in process (cProfile) for ``--profile``
referrals and prints where the time goes.

Prints a table and the profile, or one JSON object with ``--json``.

    PYTHONPATH=. .venv/bin/python benchmarks/referral_intake.py [--people 2000] [--rate 100] [--seconds 30] [--postgresql] [--json]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import psycopg
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from joinedup.access import tables as access_tables
from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.feeds.intake import ingest_message
from joinedup.feeds.model import Message, MessageFormat
from joinedup.feeds.pipeline import Outcome
from joinedup.referrals import tables as referral_tables
from joinedup.referrals.fhir import parse_bars
from joinedup.referrals.rules import load_rules
from joinedup.referrals.store import Actor, Centre
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from joinedup.synthetic.population import nhs_numbers_for_indices
from tests.support.postgres import PostgresServer, find_bin_dir

GP = "demo-gp"
PRACTICE = "L99021"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
LOCAL = "https://fhir.example.org/Id/local"
NEED_SYSTEM = "https://joinedup.nhs.uk/CodeSystem/referral-need"
URGENCY_SYSTEM = "https://joinedup.nhs.uk/CodeSystem/referral-urgency"
#: What a GP refers for, and how fast (the demo GP refers as ``gp``).
NEEDS = (
    "fall",
    "frailty",
    "acute_deterioration",
    "wound_care",
    "catheter_continence",
    "breathlessness",
    "heart_failure",
    "end_of_life",
    "memory_dementia",
    "rehabilitation",
    "care_and_support",
    "wellbeing",
    "loneliness",
)
URGENCIES = ("two_hour", "same_day", "within_72_hours", "routine")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share + 0.5) - 1))]

    return {
        "p50": round(statistics.median(ordered), 1),
        "p95": round(at(0.95), 1),
        "p99": round(at(0.99), 1),
        "max": round(ordered[-1], 1),
    }


def synthetic_people(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` people: NHS number, date of birth, sex and a postcode in the ICS."""
    directory = load_directory(DEFAULT_DIRECTORY)
    districts = [d for place in directory.places for d in place.postcode_districts]
    numbers = nhs_numbers_for_indices(np.arange(count))
    people = []
    for i, number in enumerate(numbers):
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(90 * 365))
        people.append(
            {
                "nhs": number,
                "local": f"P{i}",
                "born": born.isoformat(),
                "sex": rng.choice(("female", "male")),
                "postcode": f"{rng.choice(districts)} {rng.randint(1, 9)}AB",
            }
        )
    return people


def patient_line(person: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "resourceType": "Patient",
            "identifier": [
                {"system": NHS, "value": person["nhs"]},
                {"system": LOCAL, "value": person["local"]},
            ],
            "name": [{"family": f"Bench{person['local']}", "given": ["Pat"]}],
            "gender": person["sex"],
            "birthDate": person["born"],
            "address": [{"line": ["1 Fore Street"], "postalCode": person["postcode"]}],
            "generalPractitioner": [{"identifier": {"system": ODS, "value": PRACTICE}}],
        }
    )


def prepare(settings: Settings, people: list[dict[str, Any]]) -> dict[str, float]:
    """Migrate, load the directory, take the people in (one NDJSON message)."""
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    started = time.perf_counter()
    body = b"\n".join(patient_line(p) for p in people) + b"\n"
    message = Message(
        PRACTICE, "gp-fhir", MessageFormat.FHIR_NDJSON, body, datetime.now(UTC), name="bench"
    )
    outcomes = ingest_message(sessions, message)
    accepted = sum(o.outcome is Outcome.ACCEPTED for o in outcomes)
    if accepted != len(people):
        raise SystemExit(f"only {accepted} of {len(people)} people were taken in")
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"people": accepted, "seconds": round(seconds, 1)}


def bars_message(person: dict[str, Any], rng: random.Random, now: datetime) -> dict[str, Any]:
    """A BaRS referral for ``person``, with a new message id, a random need and urgency."""
    need, urgency = rng.choice(NEEDS), rng.choice(URGENCIES)
    return {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [
            {
                "fullUrl": "urn:uuid:header",
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": str(uuid.uuid4()),
                    "eventCoding": {
                        "system": "https://fhir.nhs.uk/CodeSystem/message-events-bars",
                        "code": "servicerequest-request",
                    },
                    "source": {"endpoint": "https://gp.example.nhs.uk/bars"},
                    "focus": [{"reference": "urn:uuid:request"}],
                },
            },
            {
                "fullUrl": "urn:uuid:request",
                "resource": {
                    "resourceType": "ServiceRequest",
                    "status": "active",
                    "intent": "order",
                    "priority": "asap" if urgency in ("two_hour", "same_day") else "routine",
                    "category": [{"coding": [{"system": URGENCY_SYSTEM, "code": urgency}]}],
                    "code": {"coding": [{"system": NEED_SYSTEM, "code": need}]},
                    "subject": {"reference": "urn:uuid:patient"},
                    "encounter": {"reference": "urn:uuid:encounter"},
                    "authoredOn": (now - timedelta(minutes=5)).isoformat(),
                    "reasonCode": [{"text": f"Benchmark referral for {need.replace('_', ' ')}."}],
                },
            },
            {
                "fullUrl": "urn:uuid:patient",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": NHS, "value": person["nhs"]}],
                    "birthDate": person["born"],
                },
            },
            {
                "fullUrl": "urn:uuid:encounter",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"code": "VR"},
                },
            },
        ],
    }


def start_server(
    env: dict[str, str], workers: int, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as err:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "joinedup.cli.main",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.terminate()
            raise SystemExit(f"the server did not start (see {log})")
        time.sleep(0.2)


def send(
    base: str,
    token: str,
    people: list[dict[str, Any]],
    *,
    rate: float,
    seconds: float,
    clients: int,
    progress: Progress,
) -> dict[str, Any]:
    """Referrals at ``rate`` a second for ``seconds``, from ``clients`` threads."""
    total = int(rate * seconds)
    lock = threading.Lock()
    next_slot = [0]
    sent_ms: list[float] = []  # round trip, from sending
    slot_ms: list[float] = []  # from the message's slot in the schedule (counts waiting)
    errors: list[str] = []
    finished = [0.0]
    task = progress.add_task("referrals", total=total)
    start = time.perf_counter() + 0.5

    def worker(i: int) -> None:
        rng = random.Random(1000 + i)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                with lock:
                    slot = next_slot[0]
                    next_slot[0] += 1
                if slot >= total:
                    return
                due = start + slot / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                body = orjson.dumps(bars_message(rng.choice(people), rng, datetime.now(UTC)))
                began = time.perf_counter()
                try:
                    response = client.post("/fhir/$process-message", content=body, headers=headers)
                    ok = response.status_code == 200
                    problem = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as error:
                    ok, problem = False, f"{type(error).__name__}: {error}"
                ended = time.perf_counter()
                with lock:
                    sent_ms.append((ended - began) * 1000)
                    slot_ms.append((ended - due) * 1000)
                    finished[0] = max(finished[0], ended)
                    if not ok:
                        errors.append(problem)
                progress.advance(task)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = finished[0] - start
    return {
        "target_rate": rate,
        "scheduled": total,
        "sent": len(sent_ms),
        "ok": len(sent_ms) - len(errors),
        "errors": len(errors),
        "first_errors": errors[:5],
        "seconds": round(elapsed, 2),
        "achieved_rate": round((len(sent_ms) - len(errors)) / elapsed, 1),
        "latency_ms": percentiles(sent_ms),
        "latency_from_schedule_ms": percentiles(slot_ms),
        "client_threads": clients,
    }


def warm_up(base: str, token: str, people: list[dict[str, Any]], count: int) -> int:
    """``count`` referrals one at a time (each server process reads the directory once)."""
    rng = random.Random(99)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(count):
            body = orjson.dumps(bars_message(rng.choice(people), rng, datetime.now(UTC)))
            response = client.post("/fhir/$process-message", content=body, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"warm-up: HTTP {response.status_code}: {response.text[:300]}")
    return count


def database_counts(settings: Settings) -> dict[str, int]:
    engine = make_engine(settings)
    r, a = referral_tables.referral, access_tables.audit_event
    with session_factory(engine)() as session:

        def count(query: Any) -> int:
            return int(session.execute(query).scalar_one())

        counts = {
            "referrals": count(select(func.count()).select_from(r)),
            "referral_events": count(
                select(func.count()).select_from(referral_tables.referral_event)
            ),
            "audit_referral_created": count(
                select(func.count())
                .select_from(a)
                .where(a.c.what.like("Task/% via bars"), a.c.outcome == "success")
            ),
            "audit_errors": count(
                select(func.count()).select_from(a).where(a.c.outcome != "success")
            ),
            "audit_entries": count(select(func.count()).select_from(a)),
            "proposed": count(
                select(func.count()).select_from(r).where(r.c.proposed_service.is_not(None))
            ),
        }
    engine.dispose()
    return counts


def profile_take(
    settings: Settings, people: list[dict[str, Any]], count: int
) -> tuple[dict[str, Any], str]:
    """``Centre.take`` in process for ``count`` referrals, under cProfile."""
    from joinedup.directory.store import read_directory

    engine = make_engine(settings)
    sessions = session_factory(engine)
    with sessions() as session:
        directory = read_directory(session)
    assert directory is not None
    centre = Centre(directory, load_rules(settings.routing_rules))
    actor = Actor("bench-gp", "Bench GP", PRACTICE)
    rng = random.Random(7)
    news = [
        parse_bars(
            bars_message(rng.choice(people), rng, datetime.now(UTC)), referrer=actor, source="gp"
        )
        for _ in range(count)
    ]
    profiler = cProfile.Profile()
    times = []
    for new in news:
        began = time.perf_counter()
        profiler.enable()
        with sessions.begin() as session:
            centre.take(session, new, datetime.now(UTC))
        profiler.disable()
        times.append((time.perf_counter() - began) * 1000)
    engine.dispose()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"joinedup|sqlalchemy/engine/base|commit", 30)
    phases = {}
    for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        if "joinedup" in filename and name in (
            "take",
            "_check",
            "resolve",
            "person_context",
            "propose",
            "service_statuses",
            "_keep_in_record",
            "_event",
        ):
            phases[name] = round(row[3] / count * 1000, 2)  # cumulative ms per referral
    return {
        "referrals": count,
        "ms": percentiles(times),
        "phase_ms_per_referral": phases,
    }, out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=100.0, help="target referrals a second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=16, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--warmup", type=int, default=20, help="referrals sent first, one at a time, untimed"
    )
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database")
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="start a throwaway PostgreSQL server (the tests' own) and use it",
    )
    parser.add_argument("--profile", type=int, default=200, help="referrals to profile (0: none)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.postgresql:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            parser.error("no PostgreSQL server binaries here (make system-deps installs them)")
        server = PostgresServer(bin_dir)
        server.start()
        try:
            with psycopg.connect(server.url().replace("+psycopg", ""), autocommit=True) as c:
                c.execute("CREATE DATABASE bench")
            args.database_url = server.url("bench")
            run(args)
        finally:
            server.stop()
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    """One benchmark run with the parsed arguments."""
    console = Console(stderr=True)
    rng = random.Random(2026)
    people = synthetic_people(args.people, rng)
    report: dict[str, Any] = {
        "benchmark": "referral_intake",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": datetime.now(UTC).date().isoformat(),
        "database": "postgresql" if args.database_url else "sqlite",
        "server_workers": args.workers,
        "load_average_at_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="joinedup-referral-bench-") as tmp:
        var = Path(tmp) / "var"
        settings = Settings(var_dir=var, dev_idp=True, database_url=args.database_url)
        env = {"JOINEDUP_VAR_DIR": str(var), "JOINEDUP_DEV_IDP": "1"}
        if args.database_url:
            env["JOINEDUP_DATABASE_URL"] = args.database_url
        with console.status(f"taking in {args.people:,} people"):
            report["prepare"] = prepare(settings, people)
        token = DevIdentityProvider(settings).issue(GP, minutes=120)
        server, base = start_server(env, args.workers, Path(tmp) / "server.log")
        try:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
            )
            report["warm_up"] = warm_up(base, token, people, args.warmup)
            with Progress(*columns, console=console, transient=True) as progress:
                report["intake"] = send(
                    base,
                    token,
                    people,
                    rate=args.rate,
                    seconds=args.seconds,
                    clients=args.clients,
                    progress=progress,
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
        db = database_counts(settings)
        expected = report["warm_up"] + report["intake"]["ok"]
        db["expected_referrals"] = expected
        db["referrals_match"] = db["referrals"] == expected
        db["audit_entries_match"] = db["audit_referral_created"] == expected
        report["database_after"] = db
        report["load_average_at_end"] = os.getloadavg()
        profile_text = ""
        if args.profile:
            with console.status(f"profiling Centre.take for {args.profile} referrals"):
                report["centre_take_in_process"], profile_text = profile_take(
                    settings, people, args.profile
                )
    if args.json:
        print(json.dumps(report, indent=2))
        return
    intake, db = report["intake"], report["database_after"]
    table = Table(title=f"BaRS intake, target {args.rate:g}/s for {args.seconds:g} s")
    table.add_column("measure")
    table.add_column("result", justify="right")
    rows = [
        ("achieved referrals/s", f"{intake['achieved_rate']}"),
        ("sent / ok / errors", f"{intake['sent']} / {intake['ok']} / {intake['errors']}"),
        ("latency p50 / p95 ms", f"{intake['latency_ms']['p50']} / {intake['latency_ms']['p95']}"),
        (
            "from schedule p50 / p95 ms",
            f"{intake['latency_from_schedule_ms']['p50']} / {intake['latency_from_schedule_ms']['p95']}",
        ),
        (
            "referrals stored (warm-up + ok)",
            f"{db['referrals']} (expected {db['expected_referrals']})",
        ),
        ("audit entries (referral created)", str(db["audit_referral_created"])),
        ("audit entries, all", str(db["audit_entries"])),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    if profile_text:
        Console().print(report["centre_take_in_process"])
        print(profile_text)


if __name__ == "__main__":
    main()
