"""Generate a whole synthetic ICS: people, their partners' feeds, and the ground truth.

The population is split into fixed-size chunks. Each chunk draws its people and writes its
feeds into its own staging folder using only random streams derived from (seed, chunk,
stream name); the chunks run in a process pool and are merged in chunk order, so the output
is byte-identical for the same seed, size and chunk size whatever the number of workers.

Merging: a file that only one chunk wrote is moved into place; files that several chunks
wrote at the same path are concatenated in chunk order, keeping a CSV's header line once.
Such files must therefore be line-oriented (NDJSON, CSV with a header, HL7 v2 batches);
a ``.json`` file written by two chunks is an error.

Output tree::

    DIR/feeds/<partner>/...            what each partner sends (gp-<ODS>/bundles-*.ndjson, ...)
    DIR/truth/records.csv              partner, feed, local_id, person_id for every record
    DIR/published/gp-registered-patients.csv
    DIR/published/postcode-lookup.csv
    DIR/published/national-data-opt-outs.csv
    DIR/manifest.json                  seed, size, period and counts (nothing time-dependent)
"""

from __future__ import annotations

import csv
import gc
import importlib.util
import io
import multiprocessing
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import orjson

from joinedup.directory.model import Directory
from joinedup.synthetic.gp_feed import FEED_NAME as GP_FEED
from joinedup.synthetic.gp_feed import write_gp_feed
from joinedup.synthetic.model import Person, TruthRow
from joinedup.synthetic.population import (
    MAX_PEOPLE,
    Geography,
    Period,
    age_band_label,
    build_geography,
    draw_people,
    python_random,
    random_stream,
    registered_on,
)

TRUTH_HEADER: Final = ("partner", "feed", "local_id", "person_id")
#: Columns of the published registered-patient counts (what directory.store reads).
PUBLISHED_HEADER: Final = ("extract_date", "practice", "sex", "age_band", "count")
_STAGING: Final = ".staging"


class GenerationError(ValueError):
    """The generator cannot run as asked (the message says why; it never names a person)."""


@dataclass(frozen=True)
class GenerationSummary:
    """What a run generated, and how fast."""

    people: int
    seed: int
    years: int
    start: date
    end: date  # the last day of the period
    records: dict[str, int]  # person-level source records per feed
    fhir_resources: int
    files: int
    seconds: float
    chunk_size: int
    workers: int

    def records_per_second(self) -> dict[str, float]:
        """Records generated per second of wall time, per feed."""
        seconds = max(self.seconds, 1e-9)
        return {feed: round(count / seconds, 1) for feed, count in self.records.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view of the summary."""
        return {
            "people": self.people,
            "seed": self.seed,
            "years": self.years,
            "period": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "records": dict(self.records),
            "fhir_resources": self.fhir_resources,
            "files": self.files,
            "seconds": round(self.seconds, 2),
            "records_per_second": self.records_per_second(),
            "chunk_size": self.chunk_size,
            "workers": self.workers,
        }


@dataclass(frozen=True)
class _ChunkTask:
    chunk: int
    first_index: int
    count: int
    staging: Path


@dataclass
class _ChunkResult:
    chunk: int
    people: int
    staging: Path
    records: Counter[str] = field(default_factory=Counter)
    fhir_resources: int = 0
    registered: Counter[tuple[str, str, str]] = field(default_factory=Counter)


@dataclass(frozen=True)
class _RunSettings:
    directory: Directory
    seed: int
    period: Period


# Set once in each worker process (and in the parent for a single-process run).
_SETTINGS: _RunSettings | None = None
_GEOGRAPHY: Geography | None = None


def _init_worker(settings: _RunSettings) -> None:
    global _SETTINGS, _GEOGRAPHY
    _SETTINGS = settings
    _GEOGRAPHY = build_geography(settings.directory, settings.seed)


def _run_chunk(task: _ChunkTask) -> _ChunkResult:
    """Draw one chunk's people and write all their feeds into the chunk's staging folder."""
    # The chunk makes millions of small objects and no reference cycles: the cyclic garbage
    # collector's passes over them would more than double the time.
    gc.disable()
    try:
        return _generate_chunk(task)
    finally:
        gc.enable()
        gc.collect()


def _generate_chunk(task: _ChunkTask) -> _ChunkResult:
    assert _SETTINGS is not None and _GEOGRAPHY is not None, "worker not initialised"
    settings = _SETTINGS
    period = settings.period
    people = draw_people(
        geography=_GEOGRAPHY,
        period=period,
        seed=settings.seed,
        chunk=task.chunk,
        first_index=task.first_index,
        count=task.count,
    )
    out = task.staging
    out.mkdir(parents=True, exist_ok=True)
    result = _ChunkResult(chunk=task.chunk, people=len(people), staging=out)

    gp = write_gp_feed(
        people,
        start=period.start,
        end=period.end,
        rnd=python_random(random_stream(settings.seed, task.chunk, "gp-feed")),
        chunk=task.chunk,
        out=out,
    )
    truth_by_feed: dict[str, list[TruthRow]] = {GP_FEED: gp.truth}
    result.fhir_resources = gp.resources
    partner_truth = _write_partner_feeds(people, settings=settings, chunk=task.chunk, out=out)
    for feed in sorted(partner_truth):
        truth_by_feed.setdefault(feed, []).extend(partner_truth[feed])

    truth_path = out / "truth" / "records.csv"
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    with truth_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TRUTH_HEADER)
        for feed, rows in truth_by_feed.items():
            result.records[feed] += len(rows)
            writer.writerows((r.partner, r.feed, r.local_id, r.person_id) for r in rows)

    last_day = period.end - timedelta(days=1)
    for practice, sex, age in registered_on(people, last_day):
        result.registered[(practice, sex, age_band_label(age))] += 1
    _write_opt_outs(people, settings.seed, task.chunk, out)
    return result


#: Share of people with a National Data Opt-out: about 5% in England (NHS England, "National
#: Data Opt-out" official statistics, 2024: 5.4% of registered patients); rounded here.
OPT_OUT_SHARE: Final = 0.054


def _write_opt_outs(people: Sequence[Person], seed: int, chunk: int, out: Path) -> None:
    """The NHS numbers of this chunk's people who have registered a National Data Opt-out:
    the list an ICS gets from NHS England's "Check for National Data Opt-outs" service."""
    rnd = python_random(random_stream(seed, chunk, "national-data-opt-out"))
    path = out / "published" / "national-data-opt-outs.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("nhs_number",))
        writer.writerows((p.nhs_number,) for p in people if rnd.random() < OPT_OUT_SHARE)


def _write_partner_feeds(
    people: Sequence[Person], *, settings: _RunSettings, chunk: int, out: Path
) -> dict[str, list[TruthRow]]:
    """The other partners' feeds (hospital, community, mental health, social care)."""
    if not _partner_feeds_available():
        return {}
    from joinedup.synthetic.partner_feeds import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        write_partner_feeds,
    )

    truth: dict[str, list[TruthRow]] = write_partner_feeds(
        people,
        directory=settings.directory,
        start=settings.period.start,
        end=settings.period.end,
        seed=settings.seed,
        chunk=chunk,
        out=out,
    )
    return truth


def _partner_feeds_available() -> bool:
    # TEMPORARY: the partner feed writers are another engineer's work in progress; until
    # their module lands the generator writes the GP feed only.
    return importlib.util.find_spec("joinedup.synthetic.partner_feeds") is not None


def _write_finance_ledger(settings: _RunSettings, out: Path) -> None:
    if not _partner_feeds_available():
        return
    from joinedup.synthetic.partner_feeds import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        write_finance_ledger,
    )

    write_finance_ledger(
        directory=settings.directory,
        start=settings.period.start,
        end=settings.period.end,
        seed=settings.seed,
        out=out,
    )


def default_directory() -> Directory:
    """The directory shipped with JoinedUp (Cornwall and the Isles of Scilly), for the CLI."""
    from joinedup.directory.loader import load_directory
    from joinedup.settings import DEFAULT_DIRECTORY

    return load_directory(DEFAULT_DIRECTORY)


def period_for(end: date, years: int) -> Period:
    """The ``years`` whole years ending on ``end`` (inclusive), as [start, end + 1 day)."""
    after = end + timedelta(days=1)
    try:
        start = after.replace(year=after.year - years)
    except ValueError:  # 29 February
        start = (after - timedelta(days=1)).replace(year=after.year - years) + timedelta(days=1)
    return Period(start=start, end=after)


def generate_ics(
    *,
    directory: Directory,
    people: int,
    seed: int,
    years: int,
    out: Path,
    end: date = date(2026, 3, 31),
    workers: int = 2,
    chunk_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> GenerationSummary:
    """Generate a synthetic ICS of ``people`` people over ``years`` years ending on ``end``.

    Writes the partners' feeds, the ground truth and the published registered-patient counts
    under ``out`` (which must not exist, or be empty). ``progress`` is called with the number
    of people just finished after each chunk. The same ``seed``, ``people``, ``years``,
    ``end`` and ``chunk_size`` give a byte-identical tree whatever ``workers`` is.
    """
    if not 1 <= people <= MAX_PEOPLE:
        raise GenerationError(f"people must be between 1 and {MAX_PEOPLE:,}")
    if years < 1:
        raise GenerationError("years must be at least 1")
    if workers < 1:
        raise GenerationError("workers must be at least 1")
    if chunk_size < 1:
        raise GenerationError("chunk_size must be at least 1")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GenerationError(f"{out} already exists and is not empty: choose a new folder")
    out.mkdir(parents=True, exist_ok=True)

    began = time.perf_counter()
    settings = _RunSettings(directory=directory, seed=seed, period=period_for(end, years))
    staging = out / _STAGING
    tasks = [
        _ChunkTask(
            chunk=chunk,
            first_index=first,
            count=min(chunk_size, people - first),
            staging=staging / f"chunk-{chunk:05d}",
        )
        for chunk, first in enumerate(range(0, people, chunk_size))
    ]
    records: Counter[str] = Counter()
    registered: Counter[tuple[str, str, str]] = Counter()
    resources = 0
    try:
        for result in _run_all(tasks, settings, workers):
            _merge(result.staging, out)
            records.update(result.records)
            registered.update(result.registered)
            resources += result.fhir_resources
            if progress is not None:
                progress(result.people)
        _write_finance_ledger(settings, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    last_day = settings.period.end - timedelta(days=1)
    _write_published(out, directory, registered, last_day)
    _write_postcode_lookup(out, build_geography(directory, seed))
    summary_records = {feed: records[feed] for feed in sorted(records)}
    manifest = {
        "generator": "joinedup.synthetic",
        "seed": seed,
        "people": people,
        "years": years,
        "chunk_size": chunk_size,
        "period": {"start": settings.period.start.isoformat(), "end": last_day.isoformat()},
        "records": summary_records,
        "fhir_resources": resources,
        "directory": directory.name,
    }
    (out / "manifest.json").write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    files = sum(len(names) for _, _, names in os.walk(out))
    return GenerationSummary(
        people=people,
        seed=seed,
        years=years,
        start=settings.period.start,
        end=last_day,
        records=summary_records,
        fhir_resources=resources,
        files=files,
        seconds=time.perf_counter() - began,
        chunk_size=chunk_size,
        workers=workers,
    )


def _run_all(
    tasks: list[_ChunkTask], settings: _RunSettings, workers: int
) -> Iterator[_ChunkResult]:
    """Chunk results in chunk order, from this process or a pool of ``workers``."""
    if workers == 1 or len(tasks) == 1:
        _init_worker(settings)
        for task in tasks:
            yield _run_chunk(task)
        return
    # spawn: safe with threads in the parent (a Rich progress bar) and the same on every OS.
    # An executor rather than a Pool: if a worker dies, it raises instead of hanging.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(settings,)
    ) as executor:
        yield from executor.map(_run_chunk, tasks)


def _merge(chunk_dir: Path, out: Path) -> None:
    """Move or append one chunk's staged files into the output tree."""
    for root, dirs, names in os.walk(chunk_dir):
        dirs.sort()
        for name in sorted(names):
            source = Path(root) / name
            target = out / source.relative_to(chunk_dir)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
                continue
            if name.endswith(".json"):
                raise GenerationError(
                    f"two chunks wrote {target.relative_to(out)}: only line-oriented files "
                    "(NDJSON, CSV, HL7 v2) can be merged"
                )
            with source.open("rb") as src, target.open("ab") as dst:
                if name.endswith(".csv"):
                    src.readline()  # the header: the target already has it
                shutil.copyfileobj(src, dst, 1024 * 1024)
            source.unlink()
    shutil.rmtree(chunk_dir, ignore_errors=True)


def _write_published(
    out: Path, directory: Directory, registered: Counter[tuple[str, str, str]], day: date
) -> None:
    """Registered patients by practice, sex and 5-year band on ``day``: the content of NHS
    England's "Patients registered at a GP practice" publication (every practice, sex and
    band, zeros included), in the columns ``joinedup.directory.store`` reads."""
    bands = [age_band_label(a) for a in range(0, 100, 5)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PUBLISHED_HEADER)
    for practice in sorted(p.ods_code for p in directory.practices):
        for sex in ("female", "male"):
            for band in bands:
                count = registered.get((practice, sex, band), 0)
                writer.writerow((day.isoformat(), practice, sex, band, count))
    path = out / "published" / "gp-registered-patients.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _write_postcode_lookup(out: Path, geography: Geography) -> None:
    """Every postcode's small area, place and IMD decile: what the ONS postcode directory
    and the English Indices of Deprivation lookup give a real ICS."""
    path = out / "published" / "postcode-lookup.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("postcode", "small_area", "place", "imd_decile"))
        for area in geography.small_areas:
            place = geography.places[area.place].name
            writer.writerows((pc, area.code, place, area.imd_decile) for pc in area.postcodes)


__all__ = [
    "GenerationError",
    "GenerationSummary",
    "default_directory",
    "generate_ics",
    "period_for",
]
