"""Benchmark: the referral router (rank every service, propose the best), in process.

Builds a directory of ``--services`` profiled services (500 by default) from the shipped
one: its services are copied with new ids and varied areas, service types (with the type's
default profile: needs, urgencies, referrers), age ranges, opening hours and live capacity
statuses. Then times ``Router.propose`` with ``time.perf_counter`` for ``--referrals``
random referrals (need, urgency, referrer, age, sex, area and time of the week from a
seeded RNG), on that directory and on the shipped directory as it is, for comparison.
Reports p50, p95 and p99 in milliseconds against the target p95 <= 20 ms.

Prints a table, or one JSON object with ``--json``.

    PYTHONPATH=. .venv/bin/python benchmarks/referral_routing.py [--services 500] [--referrals 5000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from joinedup.directory.loader import load_directory
from joinedup.directory.model import DAYS, Directory, OpeningHours, Service
from joinedup.directory.profiles import DISPOSITIONS, NEEDS, REFERRERS, SEXES, TYPE_PROFILES
from joinedup.referrals.router import CAPACITY_STATUSES, PersonContext, Request, Router
from joinedup.referrals.rules import load_rules
from joinedup.settings import DEFAULT_DIRECTORY, DEFAULT_ROUTING_RULES

TARGET_P95_MS = 20.0

#: Opening hours the copies are given (besides keeping their original's).
HOURS = (
    OpeningHours(all_hours=True),
    OpeningHours(tuple((d, clock(8), clock(18)) for d in DAYS[:5])),
    OpeningHours(tuple((d, clock(9), clock(17)) for d in DAYS[:5])),
    OpeningHours(tuple((d, clock(8), clock(20)) for d in DAYS)),
    OpeningHours((("tue", clock(9), clock(13)), ("thu", clock(13), clock(17)))),
)
#: A Monday at midnight (GMT); referrals arrive at random times in the week after it.
WEEK_START = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def scaled_directory(base: Directory, size: int, rng: random.Random) -> Directory:
    """``base`` with its services copied (new ids, varied profiles) up to ``size``."""
    areas = [a.code for a in base.areas]
    services: list[Service] = list(base.services)
    originals = list(base.services)
    n = 0
    while len(services) < size:
        original = originals[n % len(originals)]
        n += 1
        changes: dict[str, Any] = {
            "id": f"{original.id}-copy{n}",
            "name": f"{original.name} ({n})",
            "areas": tuple(sorted(rng.sample(areas, rng.choice((1, 1, 2, len(areas)))))),
            "opening_hours": rng.choice((original.opening_hours, *HOURS)),
        }
        if rng.random() < 0.5:  # a different type, with that type's default profile
            kind = rng.choice(sorted(TYPE_PROFILES))
            profile = TYPE_PROFILES[kind]
            changes |= {
                "type": kind,
                "needs": profile.needs,
                "dispositions": profile.dispositions,
                "referrers": profile.referrers,
            }
        if rng.random() < 0.2:
            low = rng.choice((0, 18, 65))
            changes |= {"age_min": low, "age_max": rng.choice((17, 120)) if low == 0 else 120}
        if rng.random() < 0.05:
            changes["sex"] = rng.choice(SEXES)
        services.append(replace(original, **changes))
    return replace(base, services=tuple(services[:size]))


def statuses_for(directory: Directory, rng: random.Random) -> dict[str, str]:
    """Live capacity statuses: most services report one, some red, some none."""
    weights = (5, 3, 1)  # green, amber, red
    return {
        s.id: rng.choices(CAPACITY_STATUSES, weights)[0]
        for s in directory.services
        if rng.random() < 0.8
    }


def random_requests(
    directory: Directory, count: int, rng: random.Random
) -> list[tuple[Request, datetime]]:
    areas = [a.code for a in directory.areas]
    ids = [s.id for s in directory.services]
    out = []
    for _ in range(count):
        person = PersonContext(
            age=rng.randint(0, 100) if rng.random() < 0.95 else None,
            sex=rng.choice(("female", "male", "female", "male", "unknown")),
            area=rng.choice(areas) if rng.random() < 0.95 else None,
        )
        request = Request(
            need=rng.choice(list(NEEDS)),
            urgency=rng.choice(list(DISPOSITIONS)),
            source=rng.choice(list(REFERRERS)),
            person=person,
            requested_service=rng.choice(ids) if rng.random() < 0.1 else None,
        )
        now = WEEK_START + timedelta(minutes=rng.randrange(7 * 24 * 60))
        out.append((request, now))
    return out


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share + 0.5) - 1))]


def time_router(
    name: str, directory: Directory, referrals: int, seed: int, progress: Progress
) -> dict[str, Any]:
    rng = random.Random(seed)
    router = Router(directory, load_rules(DEFAULT_ROUTING_RULES))
    statuses = statuses_for(directory, rng)
    requests = random_requests(directory, referrals, rng)
    for request, now in requests[:50]:  # warm-up
        router.propose(request, statuses, now)
    times: list[float] = []
    proposed = 0
    task = progress.add_task(f"{name}: routing", total=len(requests))
    for i, (request, now) in enumerate(requests):
        started = time.perf_counter()
        best, _ = router.propose(request, statuses, now)
        times.append((time.perf_counter() - started) * 1000)
        proposed += best is not None
        if i % 100 == 99:
            progress.update(task, completed=i + 1)
    progress.update(task, completed=len(requests))
    ordered = sorted(times)
    return {
        "services": len(directory.services),
        "referrals": len(times),
        "proposed": proposed,
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(percentile(ordered, 0.95), 3),
        "p99_ms": round(percentile(ordered, 0.99), 3),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "meets_target": percentile(ordered, 0.95) <= TARGET_P95_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--referrals", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    shipped = load_directory(DEFAULT_DIRECTORY)
    scaled = scaled_directory(shipped, args.services, random.Random(args.seed))
    console = Console(stderr=True)
    report: dict[str, Any] = {
        "benchmark": "referral_routing",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": datetime.now(UTC).date().isoformat(),
        "load_average_at_start": os.getloadavg(),
        "target_p95_ms": TARGET_P95_MS,
    }
    with Progress(console=console, transient=True) as progress:
        report["shipped"] = time_router("shipped", shipped, args.referrals, args.seed, progress)
        report["scaled"] = time_router("scaled", scaled, args.referrals, args.seed, progress)
    report["load_average_at_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    table = Table(title=f"Router.propose, {args.referrals:,} random referrals (target p95 ≤ 20 ms)")
    for column in ("directory", "services", "proposed", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "directory" else "right")
    for name in ("shipped", "scaled"):
        r = report[name]
        table.add_row(
            name,
            str(r["services"]),
            f"{r['proposed']:,}",
            f"{r['p50_ms']:.2f}",
            f"[{'green' if r['meets_target'] else 'red'}]{r['p95_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            f"{r['max_ms']:.2f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
