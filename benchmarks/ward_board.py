"""Benchmark: a virtual ward's board (``GET /virtual-wards/{ward_id}``) for a full ward.

Prepares a fresh store in a temporary var folder as ``benchmarks/virtual_ward_intake.py``
does (the referral benchmark's store and people, a copy of the shipped directory with the
virtual wards' capacity raised to ``--beds``), with ``--people`` patients admitted to the
frailty virtual ward of Mid Cornwall about a week ago (``--days``), each with a full NEWS2
set twice a day since, taken in process (``VirtualWards.take_readings``, scored and
escalated as the ward's rules say). One patient in ten has an open escalation from a recent
set (an urgent review, an urgent response or an emergency in turn); one in ten had one
mid-stay, acknowledged and closed; one in 25 has missed their last two sets.

Serves the store with ``joinedup serve`` in its own process and asks for the board as
``demo-community-nurse`` (her development-provider token as the session cookie) one request
at a time: ``--warmup`` untimed, then ``--requests`` timed. Each board request reads the
ward's admissions, the people's names, a week of scores, the last readings and the open
escalations, and writes one audit entry per patient shown.

Reports the round trip and the server's own time (``Server-Timing``) p50/p95/p99, the page's
size, and checks that the page lists every patient and its open escalations, and that the
audit trail holds one entry per patient per board. Then, as a secondary measurement, it
profiles ``--profile`` boards in process (cProfile over the whole request, the app's worker
threads run inline) and prints where the time goes.

Prints a table and the profile, or one JSON object with ``--json``.

    PYTHONPATH=. .venv/bin/python benchmarks/ward_board.py [--people 200] [--requests 200] [--postgresql] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
from benchmarks.referral_intake import percentiles, start_server, synthetic_people
from benchmarks.virtual_ward_intake import (
    COLUMNS,
    DETERIORATING_EVERY,
    NURSE,
    WARD,
    WORSE,
    bench_settings,
    code_version,
    load_average,
    machine,
    phases,
    prepare_ward,
    profile_requests,
    profile_text,
    server_timing,
    with_postgresql,
)
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select

from joinedup.access import tables as access_tables
from joinedup.access.deps import SESSION_COOKIE
from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.directory.loader import load_directory
from joinedup.settings import Settings
from joinedup.storage import make_engine, session_factory
from joinedup.virtual_wards import tables as ward_tables
from joinedup.virtual_wards.config import load_wards
from joinedup.virtual_wards.store import Admission, Reading, VirtualWards

#: One patient in this many had an escalation mid-stay, since acknowledged and closed.
RECOVERED_AT: Final = 5  # (i % DETERIORATING_EVERY == RECOVERED_AT)
#: One patient in this many has missed their last two sets.
MISSED_EVERY: Final = 25
#: Where the board's time goes (cumulative, so nested phases overlap).
BOARD_PHASES: Final = {
    "ward_board (the route)": "web/virtual_ward_pages.py:ward_board",
    "token check (current_user)": "access/deps.py:current_user",
    "board (the data)": "web/virtual_ward_pages.py:board",
    "admissions": "virtual_wards/store.py:admissions",
    "_people (names, NHS numbers, ages)": "web/virtual_ward_pages.py:_people",
    "sources_of": "records/query.py:sources_of",
    "scores (a week)": "virtual_wards/store.py:scores",
    "last_readings": "virtual_wards/store.py:last_readings",
    "escalations": "virtual_wards/store.py:escalations",
    "sparkline": "web/virtual_ward_pages.py:sparkline",
    "audit (Guard.record_many)": "api/guard.py:record_many",
    "audit.record (per entry)": "access/audit.py:record",
    "audit.entry_hash": "access/audit.py:entry_hash",
    "template render": "jinja2/environment.py:render",
    "SQL executed (cursor.execute)": "sqlalchemy/engine/default.py:do_execute",
    "commits": "sqlalchemy/engine/base.py:commit",
}


def normal(rng: random.Random) -> dict[str, float]:
    return {
        "respiratory_rate": rng.randint(13, 18),
        "spo2": rng.randint(96, 99),
        "systolic": rng.randint(115, 150),
        "pulse": rng.randint(58, 88),
        "temperature": round(rng.uniform(36.3, 37.6), 1),
    }


def reading_set(values: dict[str, float], at: datetime, key: str) -> list[Reading]:
    """A full NEWS2 set taken at ``at`` (on air, alert)."""
    readings = [Reading(p, at, f"{key}/{p}", value=v) for p, v in values.items()]
    readings.append(Reading("air_or_oxygen", at, f"{key}/air_or_oxygen", value=0))
    readings.append(Reading("consciousness", at, f"{key}/consciousness", code="A"))
    return readings


def take_week(
    settings: Settings,
    admissions: list[Admission],
    now: datetime,
    progress: Progress,
) -> dict[str, Any]:
    """Each patient's sets twice a day from admission to now, in process; recent escalations
    for one in ten, a closed one mid-stay for another one in ten, missed sets for one in 25."""
    engine = make_engine(settings)
    sessions = session_factory(engine)
    wards = VirtualWards(
        load_wards(settings.virtual_wards_file, load_directory(settings.directory_file))
    )
    interval = wards.ward(WARD).reading_interval
    task = progress.add_task("taking a week of readings", total=len(admissions))
    started = time.perf_counter()
    sets = escalated = closed = 0
    for i, admission in enumerate(admissions):
        rng = random.Random(i)
        times = []
        at = admission.admitted_at + timedelta(hours=1)
        while at < now - timedelta(minutes=30):
            times.append(at)
            at += interval
        if i % MISSED_EVERY == 7:
            times = times[:-2]
        with sessions.begin() as session:
            for n, at in enumerate(times):
                values = normal(rng)
                last = n == len(times) - 1
                if i % DETERIORATING_EVERY == 0 and last:
                    at = now - timedelta(minutes=20)
                    values.update(WORSE[(i // DETERIORATING_EVERY) % len(WORSE)][0])
                if i % DETERIORATING_EVERY == RECOVERED_AT and n == len(times) // 2:
                    values.update(WORSE[1][0])
                taken = wards.take_readings(
                    session,
                    admission,
                    reading_set(values, at, f"bench/{admission.id}/{n}"),
                    source="device",
                    by="Benchmark device",
                    now=at + timedelta(minutes=2),
                )
                sets += 1
                if taken.escalation is not None:
                    escalated += 1
                    if not last:
                        wards.act(
                            session,
                            taken.escalation.id,
                            action="Phoned the patient: better, plan unchanged.",
                            by="Benchmark nurse",
                            now=at + timedelta(minutes=rng.randint(10, 50)),
                            expected_version=taken.escalation.version,
                        )
                        closed += 1
        progress.advance(task)
    engine.dispose()
    return {
        "sets": sets,
        "observations": sets * 7,
        "escalations_raised": escalated,
        "escalations_closed": closed,
        "seconds": round(time.perf_counter() - started, 1),
    }


def check_page(html: str, people: int, open_escalations: int) -> dict[str, Any]:
    rows = len(re.findall(r'<tr class="nhsuk-table__row" data-admission="vwa-', html))
    caption = re.search(r"(\d+) patients?, open escalations first", html)
    shown = re.search(r"Open escalations</dt><dd[^>]*>(\d+)<", html)
    return {
        "rows": rows,
        "caption_patients": int(caption.group(1)) if caption else None,
        "open_escalations_shown": int(shown.group(1)) if shown else None,
        "lists_every_patient": rows == people
        and caption is not None
        and int(caption.group(1)) == people,
        "open_escalations_match": shown is not None and int(shown.group(1)) == open_escalations,
    }


def boards(base: str, token: str, warmup: int, requests: int, progress: Progress) -> dict[str, Any]:
    """``warmup`` boards untimed, then ``requests`` timed, one at a time."""
    path = f"/virtual-wards/{WARD}"
    sent_ms: list[float] = []
    app_ms: list[float] = []
    sizes: set[int] = set()
    html = ""
    task = progress.add_task("boards", total=warmup + requests)
    with httpx.Client(base_url=base, timeout=60, cookies={SESSION_COOKIE: token}) as client:
        for n in range(warmup + requests):
            began = time.perf_counter()
            response = client.get(path)
            ended = time.perf_counter()
            if response.status_code != 200:
                raise SystemExit(f"board: HTTP {response.status_code}: {response.text[:300]}")
            if n >= warmup:
                sent_ms.append((ended - began) * 1000)
                app_ms.append(server_timing(response))
                sizes.add(len(response.content))
            html = response.text
            progress.advance(task)
    return {
        "warm_up": warmup,
        "requests": requests,
        "latency_ms": percentiles(sent_ms),
        "server_timing_ms": percentiles(app_ms),
        "page_bytes": max(sizes),
        "page_bytes_min": min(sizes),
        "last_page": html,
    }


def database_counts(settings: Settings) -> dict[str, int]:
    engine = make_engine(settings)
    x, a = ward_tables.escalation, access_tables.audit_event
    with session_factory(engine)() as session:

        def count(query: Any) -> int:
            return int(session.execute(query).scalar_one())

        counts = {
            "observations": count(select(func.count()).select_from(ward_tables.observation)),
            "scores": count(select(func.count()).select_from(ward_tables.score)),
            "escalations_active": count(
                select(func.count()).select_from(x).where(x.c.status != "closed")
            ),
            "escalations_closed": count(
                select(func.count()).select_from(x).where(x.c.status == "closed")
            ),
            "audit_board_entries": count(
                select(func.count()).select_from(a).where(a.c.what == f"virtual ward board {WARD}")
            ),
        }
    engine.dispose()
    return counts


def profile_boards(settings: Settings, count: int) -> tuple[dict[str, Any], str]:
    """``count`` boards in process, under cProfile."""
    token = DevIdentityProvider(settings).issue(NURSE, minutes=120)
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"}

    async def board(client: httpx.AsyncClient) -> None:
        response = await client.get(f"/virtual-wards/{WARD}", headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"profile: HTTP {response.status_code}: {response.text[:300]}")

    times, profiler = profile_requests(settings, [board] * (count + 3))
    return {
        "boards": count,
        "ms": percentiles(times),
        "phase_ms_per_board": phases(profiler, BOARD_PHASES, count),
    }, profile_text(profiler, r"joinedup|jinja2/environment|sqlalchemy/engine/base|commit", 40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200, help="patients on the ward")
    parser.add_argument("--days", type=float, default=7.0, help="days on the ward (readings)")
    parser.add_argument("--requests", type=int, default=200, help="boards timed")
    parser.add_argument("--warmup", type=int, default=10, help="boards first, untimed")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--beds", type=int, default=2_000, help="each virtual ward's capacity")
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database")
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="start a throwaway PostgreSQL server (the tests' own) and use it",
    )
    parser.add_argument("--profile", type=int, default=30, help="boards to profile (0: none)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if not 1 <= args.people <= args.beds:
        parser.error("--people must be 1 to --beds (everyone is on one ward)")
    with_postgresql(args, parser, run)


def run(args: argparse.Namespace) -> None:
    """One benchmark run with the parsed arguments."""
    console = Console(stderr=True)
    people = synthetic_people(args.people, random.Random(2026))
    report: dict[str, Any] = {
        "benchmark": "ward_board",
        "machine": machine(),
        "code": code_version(),
        "date": datetime.now(UTC).date().isoformat(),
        "database": "postgresql" if args.database_url else "sqlite",
        "server_workers": args.workers,
        "people_on_the_ward": args.people,
        "load_average_at_start": load_average(),
    }
    with tempfile.TemporaryDirectory(prefix="joinedup-board-bench-") as tmp:
        settings, env = bench_settings(tmp, args, args.beds)
        now = datetime.now(UTC)
        week = timedelta(days=args.days)
        with Progress(*COLUMNS, console=console, transient=True) as progress:
            report["prepare"], admitted = prepare_ward(
                settings,
                people,
                settings.directory_file,
                admitted_at=lambda i: now - week - timedelta(minutes=i * 3),
                progress=progress,
            )
            report["prepare"]["readings"] = take_week(settings, admitted, now, progress)
        before = database_counts(settings)
        token = DevIdentityProvider(settings).issue(NURSE, minutes=120)
        server, base = start_server(env, args.workers, Path(tmp) / "server.log")
        try:
            report["load_average_before_load"] = load_average()
            with Progress(*COLUMNS, console=console, transient=True) as progress:
                result = boards(base, token, args.warmup, args.requests, progress)
            report["load_average_after_load"] = load_average()
        finally:
            server.terminate()
            server.wait(timeout=30)
        page = result.pop("last_page")
        report["board"] = result
        report["page"] = check_page(page, args.people, before["escalations_active"])
        after = database_counts(settings)
        after["audit_board_entries_expected"] = args.people * (args.warmup + args.requests)
        after["audit_match"] = (
            after["audit_board_entries"] - before["audit_board_entries"]
            == after["audit_board_entries_expected"]
        )
        report["database"] = after
        report["load_average_at_end"] = load_average()
        text = ""
        if args.profile:
            with console.status(f"profiling {args.profile} boards in process"):
                report["boards_in_process"], text = profile_boards(settings, args.profile)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print_report(report, text)


def print_report(report: dict[str, Any], text: str) -> None:
    board, page, db = report["board"], report["page"], report["database"]
    table = Table(
        title=f"Ward board, {report['people_on_the_ward']} patients, {board['requests']} requests"
    )
    table.add_column("measure")
    table.add_column("result", justify="right")

    def ms(d: dict[str, float]) -> str:
        return f"{d.get('p50')} / {d.get('p95')} / {d.get('p99')}"

    rows = [
        ("round trip p50/p95/p99 ms", ms(board["latency_ms"])),
        ("server (Server-Timing) p50/p95/p99 ms", ms(board["server_timing_ms"])),
        ("page size", f"{board['page_bytes']:,} bytes"),
        ("patients listed", f"{page['rows']} (caption {page['caption_patients']})"),
        ("open escalations shown", str(page["open_escalations_shown"])),
        (
            "page checks",
            "pass" if page["lists_every_patient"] and page["open_escalations_match"] else "FAIL",
        ),
        ("observations / scores", f"{db['observations']:,} / {db['scores']:,}"),
        ("audit entries per board", "one per patient" if db["audit_match"] else "MISMATCH"),
        (
            "load average start / end",
            f"{report['load_average_at_start'][0]} / {report['load_average_at_end'][0]}",
        ),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    if text:
        Console().print(report["boards_in_process"])
        print(text)


if __name__ == "__main__":
    main()
