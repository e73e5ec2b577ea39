"""Benchmark: device uploads to a virtual ward (``POST /fhir/Observation``), scored and
escalated.

Prepares a fresh store in a temporary var folder (SQLite, or ``--database-url`` for
PostgreSQL) as ``benchmarks/referral_intake.py`` does (migrated, the shipped directory,
``--people`` synthetic people taken in through the feeds pipeline), then loads a copy of the
shipped directory with every virtual ward's capacity raised to ``--beds`` (written into the
var folder; ``JOINEDUP_DIRECTORY_FILE`` names it) and admits every person to the frailty
virtual ward of Mid Cornwall in process (``VirtualWards.admit``): the ward the demo
community nurse works on, so she may post readings for all of them.

Serves the store with ``joinedup serve`` in its own process, then sends device uploads as
``demo-community-nurse`` (her development-provider token as a Bearer token): each one a
batch Bundle of one patient's full NEWS2 set, seven vital-signs Observations with unique
identifiers. Patients take turns (upload ``n`` is patient ``n mod people``), so a patient's
uploads are never in flight together. One patient in ten deteriorates: their first upload
raises an urgent review (respiration 25 scores 3), the second an urgent response (NEWS2 5),
the third an emergency (NEWS2 8); everyone else's readings score 0. The uploads go at
``--per-minute`` observations a minute (seven an upload) for ``--seconds`` from
``--clients`` threads, each in a slot of an even schedule (sent at its slot, or at once if
behind), so when the server cannot keep up the achieved rate is its capacity.

Reports the achieved observations a minute, errors (non-200 answers, or a set not stored
whole), the client's round trip (p50/p95/p99, from sending and from the slot), and the
server's own ``X-Receipt-To-Escalation-Ms`` (receipt of the request to readings stored,
scored, any escalation raised and the request audited): the target's measure. Afterwards
it checks the database: the observations stored equal those sent, one score per upload, the
escalations raised and raised a level equal those the answers reported (and those the plan
expects), one audit entry per upload. Then, as a secondary measurement, it profiles
``--profile`` uploads in process (cProfile over the whole request, the app's worker
threads run inline) and prints where the time goes.

Prints a table and the profile, or one JSON object with ``--json``.

    PYTHONPATH=. .venv/bin/python benchmarks/virtual_ward_intake.py [--people 1000] [--per-minute 10000] [--seconds 60] [--postgresql] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import random
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import orjson
import psycopg
import yaml
from benchmarks.referral_intake import (
    NHS,
    percentiles,
    prepare,
    start_server,
    synthetic_people,
)
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from joinedup.access import tables as access_tables
from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.records.query import find_people
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, session_factory
from joinedup.virtual_wards import tables as ward_tables
from joinedup.virtual_wards.config import load_wards
from joinedup.virtual_wards.store import Admission, VirtualWards
from tests.support.postgres import PostgresServer, find_bin_dir

WARD: Final = "virtual-ward-frailty-central"
NURSE: Final = "demo-community-nurse"
LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
DEVICE: Final = "https://device.example.org/Id/reading"
CATEGORY: Final = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs",
            }
        ]
    }
]
#: NEWS2's parameters as UK Core vital signs: (system, code, UCUM unit; None for ACVPU).
OBSERVATIONS: Final[dict[str, tuple[str, str, str | None]]] = {
    "respiratory_rate": (LOINC, "9279-1", "/min"),
    "spo2": (LOINC, "59408-5", "%"),
    "air_or_oxygen": (LOINC, "3150-0", "%"),  # inhaled oxygen concentration: 21% is air
    "systolic": (LOINC, "8480-6", "mm[Hg]"),
    "pulse": (LOINC, "8867-4", "/min"),
    "temperature": (LOINC, "8310-5", "Cel"),
    "consciousness": (SNOMED, "1104441000000107", None),
}
ALERT: Final = "248234008"  # SNOMED CT: mentally alert
#: A deteriorating patient's sets, worse each time, and the escalation each raises.
WORSE: Final[tuple[tuple[dict[str, float], str], ...]] = (
    ({"respiratory_rate": 25}, "urgent-review"),  # 25 scores 3 on its own: NEWS2 3
    (
        {"respiratory_rate": 22, "spo2": 94, "pulse": 105, "temperature": 38.3},
        "urgent-response",  # 2 + 1 + 1 + 1: NEWS2 5
    ),
    (
        {"respiratory_rate": 23, "spo2": 92, "pulse": 115, "temperature": 38.6, "systolic": 105},
        "emergency",  # 2 + 2 + 2 + 1 + 1: NEWS2 8
    ),
)
#: One patient in this many deteriorates.
DETERIORATING_EVERY: Final = 10
COLUMNS: Final = (
    TextColumn("{task.description}"),
    BarColumn(),
    TextColumn("{task.completed}/{task.total}"),
    TimeElapsedColumn(),
)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.machine(),
    }


def code_version() -> dict[str, Any]:
    """The commit the run's code is at, and whether ``src`` has changes not committed (the
    code changes under a long run on a shared checkout)."""

    def git(*words: str) -> str:
        done = subprocess.run(["git", *words], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_uncommitted": bool(git("status", "--porcelain", "--", "src")),
    }


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def raised_directory(path: Path, beds: int) -> Path:
    """A copy of the shipped directory with every virtual ward's capacity ``beds``."""
    raw = yaml.safe_load(DEFAULT_DIRECTORY.read_text(encoding="utf-8"))
    for service in raw["services"]:
        if service.get("type") == "virtual_ward":
            service["capacity"] = {"amount": beds, "unit": "virtual beds"}
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def prepare_ward(
    settings: Settings,
    people: list[dict[str, Any]],
    directory_file: Path,
    *,
    admitted_at: Callable[[int], datetime],
    progress: Progress,
    batch: int = 50,
) -> tuple[dict[str, Any], list[Admission]]:
    """The referral benchmark's store (migrated, the people taken in), the directory from
    ``directory_file``, and everyone admitted to :data:`WARD` (person ``i`` at
    ``admitted_at(i)``), ``batch`` to a transaction."""
    task = progress.add_task("taking the people in", total=None)
    report: dict[str, Any] = {"people": prepare(settings, people)}
    progress.update(task, total=1, completed=1)
    engine = make_engine(settings)
    sessions = session_factory(engine)
    directory = load_directory(directory_file)
    with sessions.begin() as session:
        save_directory(session, directory)
    wards = VirtualWards(load_wards(settings.virtual_wards_file, directory))
    started = time.perf_counter()
    admitted: list[Admission] = []
    task = progress.add_task(f"admitting to {WARD}", total=len(people))
    for first in range(0, len(people), batch):
        with sessions.begin() as session:
            for i, person in enumerate(people[first : first + batch], start=first):
                keys = find_people(session, {"identifier": [f"{NHS}|{person['nhs']}"]}, limit=2)
                if len(keys) != 1:
                    raise SystemExit(f"person {i} is not in the person index once")
                admission, _ = wards.admit(
                    session,
                    WARD,
                    keys[0],
                    kind="step-up" if i % 3 else "step-down",
                    care_plan="Benchmark: frailty with an acute decline, monitored at home.",
                    by="Benchmark",
                    now=admitted_at(i),
                )
                admitted.append(admission)
        progress.advance(task, min(batch, len(people) - first))
    engine.dispose()
    report["admitted"] = len(admitted)
    report["admit_seconds"] = round(time.perf_counter() - started, 1)
    report["ward_beds"] = wards.ward(WARD).beds
    return report, admitted


# --- the uploads ---------------------------------------------------------------------------


def planned(seq: int, people: int, rng: random.Random) -> tuple[int, dict[str, float], str | None]:
    """Upload ``seq``: whose (patient ``seq mod people``), the readings, and the escalation
    it should raise or raise the level to (None: none)."""
    patient, turn = seq % people, seq // people
    values: dict[str, float] = {
        "respiratory_rate": rng.randint(13, 18),
        "spo2": rng.randint(96, 99),
        "air_or_oxygen": 21,
        "systolic": rng.randint(115, 150),
        "pulse": rng.randint(58, 88),
        "temperature": round(rng.uniform(36.3, 37.6), 1),
    }
    if patient % DETERIORATING_EVERY == 0:
        worse, level = WORSE[min(turn, len(WORSE) - 1)]
        return patient, {**values, **worse}, level if turn < len(WORSE) else None
    return patient, values, None


def observation(
    nhs: str, parameter: str, value: float | None, at: datetime, ident: str
) -> dict[str, Any]:
    system, code, unit = OBSERVATIONS[parameter]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": DEVICE, "value": ident}],
        "status": "final",
        "category": CATEGORY,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"identifier": {"system": NHS, "value": nhs}},
        "effectiveDateTime": at.isoformat(),
    }
    if unit is None:
        resource["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": ALERT}]}
    else:
        resource["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    return resource


def vitals_bundle(nhs: str, values: dict[str, float], at: datetime, upload: str) -> dict[str, Any]:
    """One device upload: a batch Bundle of a full NEWS2 set (seven Observations)."""
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": observation(
                    nhs, parameter, values.get(parameter), at, f"{upload}-{parameter}"
                ),
                "request": {"method": "POST", "url": "Observation"},
            }
            for parameter in OBSERVATIONS
        ],
    }


def upload_body(seq: int, people: list[dict[str, Any]], run: str) -> tuple[bytes, str | None]:
    """Upload ``seq`` as JSON, and the escalation it should raise (or None)."""
    patient, values, level = planned(seq, len(people), random.Random(seq))
    at = datetime.now(UTC) - timedelta(seconds=30)
    bundle = vitals_bundle(people[patient]["nhs"], values, at, f"{run}-{seq}")
    return orjson.dumps(bundle), level


def read_answer(response: httpx.Response) -> tuple[bool, str, bool, float | None]:
    """(all seven stored, the problem if not, an escalation reported, the server's ms)."""
    header = response.headers.get("X-Receipt-To-Escalation-Ms")
    server_ms = float(header) if header else None
    if response.status_code != 200:
        return False, f"HTTP {response.status_code}: {response.text[:200]}", False, server_ms
    entries = response.json()["entry"]
    created = sum(e["response"]["status"] == "201 Created" for e in entries)
    said = entries[-1]["response"]["outcome"]["issue"][0]["diagnostics"]
    if created != len(OBSERVATIONS) or "NEWS2" not in said:
        return False, f"{created} stored: {said[:200]}", False, server_ms
    return True, "", "escalation vwe-" in said, server_ms


def server_timing(response: httpx.Response) -> float:
    """The server's own time for a request (``Server-Timing: app;dur=...``), in ms."""
    return float(response.headers["server-timing"].partition("dur=")[2])


def send(
    base: str,
    token: str,
    people: list[dict[str, Any]],
    *,
    first_seq: int,
    rate: float,
    seconds: float,
    clients: int,
    run: str,
    progress: Progress,
) -> dict[str, Any]:
    """Uploads at ``rate`` a second for ``seconds`` from ``clients`` threads."""
    total = int(rate * seconds)
    lock = threading.Lock()
    next_slot = [0]
    sent_ms: list[float] = []  # round trip, from sending
    slot_ms: list[float] = []  # from the upload's slot in the schedule (counts waiting)
    server_ms: list[float] = []  # X-Receipt-To-Escalation-Ms
    app_ms: list[float] = []  # Server-Timing: the whole request in the server, token check too
    errors: list[str] = []
    escalated = [0]
    levels: Counter[str] = Counter()
    finished = [0.0]
    task = progress.add_task("uploads", total=total)
    start = time.perf_counter() + 0.5

    def worker() -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                with lock:
                    slot = next_slot[0]
                    next_slot[0] += 1
                if slot >= total:
                    return
                body, level = upload_body(first_seq + slot, people, run)
                due = start + slot / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                began = time.perf_counter()
                try:
                    response = client.post("/fhir/Observation", content=body, headers=headers)
                    ok, problem, raised, ms = read_answer(response)
                except httpx.HTTPError as error:
                    ok, problem, raised, ms = False, f"{type(error).__name__}: {error}", False, None
                ended = time.perf_counter()
                with lock:
                    sent_ms.append((ended - began) * 1000)
                    slot_ms.append((ended - due) * 1000)
                    finished[0] = max(finished[0], ended)
                    if ms is not None and ok:
                        server_ms.append(ms)
                        app_ms.append(server_timing(response))
                    if not ok:
                        errors.append(problem)
                    elif level is not None:
                        levels[level] += 1
                    escalated[0] += raised
                progress.advance(task)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = finished[0] - start
    ok_count = len(sent_ms) - len(errors)
    return {
        "target_uploads_per_second": round(rate, 2),
        "target_observations_per_minute": round(rate * 60 * len(OBSERVATIONS)),
        "scheduled": total,
        "sent": len(sent_ms),
        "ok": ok_count,
        "errors": len(errors),
        "first_errors": errors[:5],
        "seconds": round(elapsed, 2),
        "achieved_uploads_per_second": round(ok_count / elapsed, 2),
        "achieved_observations_per_minute": round(ok_count * len(OBSERVATIONS) / elapsed * 60),
        "latency_ms": percentiles(sent_ms),
        "latency_from_schedule_ms": percentiles(slot_ms),
        "server_receipt_to_escalation_ms": percentiles(server_ms),
        "server_timing_ms": percentiles(app_ms),
        "escalations_reported": escalated[0],
        "escalations_planned_by_level": dict(levels),
        "client_threads": clients,
    }


def warm_up(
    base: str, token: str, people: list[dict[str, Any]], count: int, run: str
) -> dict[str, Any]:
    """Uploads ``0 .. count-1``, one at a time, untimed (each server process reads the
    directory and the wards once)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    escalated, levels = 0, Counter[str]()
    with httpx.Client(base_url=base, timeout=60) as client:
        for seq in range(count):
            body, level = upload_body(seq, people, run)
            response = client.post("/fhir/Observation", content=body, headers=headers)
            ok, problem, raised, _ = read_answer(response)
            if not ok:
                raise SystemExit(f"warm-up: {problem}")
            escalated += raised
            if level is not None:
                levels[level] += 1
    return {"uploads": count, "escalations_reported": escalated, "planned": dict(levels)}


def database_counts(settings: Settings) -> dict[str, Any]:
    engine = make_engine(settings)
    o, s, x = ward_tables.observation, ward_tables.score, ward_tables.escalation
    e, a = ward_tables.escalation_event, access_tables.audit_event
    with session_factory(engine)() as session:

        def count(query: Any) -> int:
            return int(session.execute(query).scalar_one())

        counts: dict[str, Any] = {
            "observations": count(select(func.count()).select_from(o)),
            "scores": count(select(func.count()).select_from(s)),
            "scores_with_a_total": count(
                select(func.count()).select_from(s).where(s.c.total.is_not(None))
            ),
            "escalations": count(select(func.count()).select_from(x)),
            "escalations_open": count(
                select(func.count()).select_from(x).where(x.c.status == "open")
            ),
            "escalation_levels": dict(
                session.execute(select(x.c.level, func.count()).group_by(x.c.level)).all()
            ),
            "escalation_events": dict(
                session.execute(select(e.c.event, func.count()).group_by(e.c.event)).all()
            ),
            "audit_uploads": count(
                select(func.count())
                .select_from(a)
                .where(a.c.what.like("Observation x7 for %"), a.c.outcome == "success")
            ),
            "audit_not_success": count(
                select(func.count()).select_from(a).where(a.c.outcome != "success")
            ),
        }
    engine.dispose()
    return counts


def check_database(db: dict[str, Any], uploads: int, planned: Counter[str], reported: int) -> None:
    """Add the expectations and whether each is met to ``db``."""
    raised = db["escalation_events"].get("raised", 0)
    raised_level = db["escalation_events"].get("raised-level", 0)
    db["expected"] = {
        "observations": uploads * len(OBSERVATIONS),
        "scores": uploads,
        "escalations": planned.get("urgent-review", 0),
        "escalations_raised_or_raised_a_level": sum(planned.values()),
        "escalations_reported_by_the_answers": reported,
    }
    db["observations_match"] = db["observations"] == uploads * len(OBSERVATIONS)
    db["scores_match"] = db["scores"] == db["scores_with_a_total"] == uploads
    db["escalations_match"] = db["escalations"] == raised == planned.get(
        "urgent-review", 0
    ) and raised + raised_level == reported == sum(planned.values())
    db["audit_match"] = db["audit_uploads"] == uploads


# --- profiling in process ------------------------------------------------------------------


@contextlib.contextmanager
def inline_threads() -> Iterator[None]:
    """Run what the app hands to worker threads (sync routes and dependencies) inline, on
    the event loop's thread, so that one cProfile sees whole requests (one at a time)."""
    import anyio.to_thread

    original = anyio.to_thread.run_sync

    async def inline(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = inline  # type: ignore[assignment]
    try:
        yield
    finally:
        anyio.to_thread.run_sync = original


def profile_requests(
    settings: Settings, requests: Sequence[Callable[[httpx.AsyncClient], Any]]
) -> tuple[list[float], cProfile.Profile]:
    """Each of ``requests`` (a coroutine function of a client) against the app in process,
    one at a time, under one cProfile; the wall time of each, in ms."""
    from joinedup.api.app import create_app

    app = create_app(settings)
    profiler = cProfile.Profile()
    times: list[float] = []

    async def run() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for request in requests[:3]:  # untimed: the first requests read the set-up
                    await request(client)
                for request in requests[3:]:
                    began = time.perf_counter()
                    profiler.enable()
                    await request(client)
                    profiler.disable()
                    times.append((time.perf_counter() - began) * 1000)

    with inline_threads():
        asyncio.run(run())
    return times, profiler


def phases(profiler: cProfile.Profile, names: dict[str, str], per: int) -> dict[str, float]:
    """Cumulative ms per request in each function named (``file fragment:function``)."""
    stats = pstats.Stats(profiler)
    found: dict[str, float] = {}
    for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        for label, where in names.items():
            fragment, _, function = where.partition(":")
            if name == function and fragment in filename:
                found[label] = round(found.get(label, 0) + row[3] / per * 1000, 2)
    return {label: found[label] for label in names if label in found}


def profile_text(profiler: cProfile.Profile, pattern: str, lines: int = 35) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(pattern, lines)
    return out.getvalue()


#: Where an upload's time goes (cumulative, so nested phases overlap).
UPLOAD_PHASES: Final = {
    "post_observations (the route)": "api/virtual_wards.py:post_observations",
    "token check (current_user)": "access/deps.py:current_user",
    "parse_observations": "virtual_wards/fhir.py:parse_observations",
    "WardAccess.for_request": "api/virtual_wards.py:for_request",
    "find the person and admission": "api/virtual_wards.py:_admissions_for",
    "find_people": "records/query.py:find_people",
    "take_readings": "virtual_wards/store.py:take_readings",
    "reading_problems": "virtual_wards/store.py:reading_problems",
    "the set (_set)": "virtual_wards/store.py:_set",
    "news2": "virtual_wards/news2.py:news2",
    "_escalate": "virtual_wards/store.py:_escalate",
    "audit (Guard.record)": "api/guard.py:record",
    "commits": "sqlalchemy/engine/base.py:commit",
    "SQL executed (cursor.execute)": "sqlalchemy/engine/default.py:do_execute",
    "SQL executemany": "sqlalchemy/engine/default.py:do_executemany",
    "FhirResponse render": "api/fhir.py:render",
}


def profile_uploads(
    settings: Settings, people: list[dict[str, Any]], first_seq: int, count: int, run: str
) -> tuple[dict[str, Any], str]:
    """``count`` uploads after ``first_seq`` in process, under cProfile."""
    token = DevIdentityProvider(settings).issue(NURSE, minutes=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    server_ms: list[float] = []

    def upload(seq: int) -> Callable[[httpx.AsyncClient], Any]:
        async def call(client: httpx.AsyncClient) -> None:
            body, _ = upload_body(seq, people, run)
            response = await client.post("/fhir/Observation", content=body, headers=headers)
            ok, problem, _, ms = read_answer(response)
            if not ok:
                raise SystemExit(f"profile: {problem}")
            if ms is not None:
                server_ms.append(ms)

        return call

    times, profiler = profile_requests(settings, [upload(first_seq + i) for i in range(count + 3)])
    return {
        "uploads": count,
        "ms": percentiles(times),
        "server_receipt_to_escalation_ms": percentiles(server_ms[3:]),
        "phase_ms_per_upload": phases(profiler, UPLOAD_PHASES, count),
    }, profile_text(profiler, r"joinedup|sqlalchemy/engine/base|commit|starlette|fastapi")


# --- the run -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000, help="patients on the ward")
    parser.add_argument(
        "--per-minute", type=float, default=10_000, help="target observations a minute"
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--beds", type=int, default=2_000, help="each virtual ward's capacity")
    parser.add_argument(
        "--warmup", type=int, default=20, help="uploads sent first, one at a time, untimed"
    )
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database")
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="start a throwaway PostgreSQL server (the tests' own) and use it",
    )
    parser.add_argument("--profile", type=int, default=200, help="uploads to profile (0: none)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.people < 1:
        parser.error("--people must be at least 1")
    if args.people > args.beds:
        parser.error("--beds must be at least --people (everyone is on one ward)")
    with_postgresql(args, parser, run)


def with_postgresql(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], None],
) -> None:
    """``run(args)``, with a throwaway PostgreSQL server if ``--postgresql`` asks for one."""
    if not args.postgresql:
        run(args)
        return
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


def bench_settings(
    tmp: str, args: argparse.Namespace, beds: int
) -> tuple[Settings, dict[str, str]]:
    """Settings and the server's environment for a var folder in ``tmp``, with the raised
    directory written into it."""
    var = Path(tmp) / "var"
    var.mkdir()
    directory_file = raised_directory(var / "directory.yaml", beds)
    settings = Settings(
        var_dir=var,
        dev_idp=True,
        database_url=args.database_url,
        directory_file=directory_file,
        deliver_notifications=False,
    )
    env = {
        "JOINEDUP_VAR_DIR": str(var),
        "JOINEDUP_DEV_IDP": "1",
        "JOINEDUP_DIRECTORY_FILE": str(directory_file),
    }
    if args.database_url:
        env["JOINEDUP_DATABASE_URL"] = args.database_url
    return settings, env


def run(args: argparse.Namespace) -> None:
    """One benchmark run with the parsed arguments."""
    console = Console(stderr=True)
    people = synthetic_people(args.people, random.Random(2026))
    rate = args.per_minute / 60 / len(OBSERVATIONS)  # uploads a second
    tag = f"bench{int(time.time())}"
    report: dict[str, Any] = {
        "benchmark": "virtual_ward_intake",
        "machine": machine(),
        "code": code_version(),
        "date": datetime.now(UTC).date().isoformat(),
        "database": "postgresql" if args.database_url else "sqlite",
        "server_workers": args.workers,
        "people_on_the_ward": args.people,
        "load_average_at_start": load_average(),
    }
    with tempfile.TemporaryDirectory(prefix="joinedup-ward-bench-") as tmp:
        settings, env = bench_settings(tmp, args, args.beds)
        now = datetime.now(UTC)
        with Progress(*COLUMNS, console=console, transient=True) as progress:
            report["prepare"], _ = prepare_ward(
                settings,
                people,
                settings.directory_file,
                admitted_at=lambda i: now - timedelta(days=1 + i % 10, minutes=i),
                progress=progress,
            )
        token = DevIdentityProvider(settings).issue(NURSE, minutes=120)
        server, base = start_server(env, args.workers, Path(tmp) / "server.log")
        try:
            report["warm_up"] = warm_up(base, token, people, args.warmup, tag)
            report["load_average_before_load"] = load_average()
            with Progress(*COLUMNS, console=console, transient=True) as progress:
                report["intake"] = send(
                    base,
                    token,
                    people,
                    first_seq=args.warmup,
                    rate=rate,
                    seconds=args.seconds,
                    clients=args.clients,
                    run=tag,
                    progress=progress,
                )
            report["load_average_after_load"] = load_average()
        finally:
            server.terminate()
            server.wait(timeout=30)
        intake, warm = report["intake"], report["warm_up"]
        uploads = warm["uploads"] + intake["ok"]
        planned = Counter(warm["planned"]) + Counter(intake["escalations_planned_by_level"])
        db = database_counts(settings)
        check_database(
            db,
            uploads,
            planned,
            warm["escalations_reported"] + intake["escalations_reported"],
        )
        report["database_after"] = db
        report["load_average_at_end"] = load_average()
        text = ""
        if args.profile:
            with console.status(f"profiling {args.profile} uploads in process"):
                report["uploads_in_process"], text = profile_uploads(
                    settings, people, args.warmup + intake["scheduled"], args.profile, tag
                )
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print_report(report, text)


def print_report(report: dict[str, Any], text: str) -> None:
    intake, db = report["intake"], report["database_after"]
    table = Table(
        title=f"Virtual-ward uploads, target {intake['target_observations_per_minute']:,} "
        f"observations a minute, {report['people_on_the_ward']:,} patients"
    )
    table.add_column("measure")
    table.add_column("result", justify="right")

    def ms(d: dict[str, float]) -> str:
        return f"{d.get('p50')} / {d.get('p95')} / {d.get('p99')}"

    rows = [
        ("achieved observations/minute", f"{intake['achieved_observations_per_minute']:,}"),
        ("uploads sent / ok / errors", f"{intake['sent']} / {intake['ok']} / {intake['errors']}"),
        (
            "server receipt to escalation p50/p95/p99 ms",
            ms(intake["server_receipt_to_escalation_ms"]),
        ),
        ("server, whole request (Server-Timing) p50/p95/p99 ms", ms(intake["server_timing_ms"])),
        ("round trip p50/p95/p99 ms", ms(intake["latency_ms"])),
        ("from schedule p50/p95/p99 ms", ms(intake["latency_from_schedule_ms"])),
        (
            "observations stored",
            f"{db['observations']} (expected {db['expected']['observations']})",
        ),
        ("scores", f"{db['scores']} (expected {db['expected']['scores']})"),
        (
            "escalations raised / raised a level",
            f"{db['escalation_events'].get('raised', 0)} / "
            f"{db['escalation_events'].get('raised-level', 0)} "
            f"(answers said {db['expected']['escalations_reported_by_the_answers']})",
        ),
        ("audit entries (uploads)", str(db["audit_uploads"])),
        (
            "database checks",
            ", ".join(k for k in db if k.endswith("_match") and not db[k]) or "all match",
        ),
        (
            "load average start / end",
            f"{report['load_average_at_start'][0]} / {report['load_average_at_end'][0]}",
        ),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    if text:
        Console().print(report["uploads_in_process"])
        print(text)


if __name__ == "__main__":
    main()
