"""Taking in files from partners' drop folders: find each file's feed, parse it, take its units."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from sqlalchemy.orm import Session, sessionmaker

from joinedup.feeds.config import FeedConfig, FeedSpec
from joinedup.feeds.csv_extract import parse_csv
from joinedup.feeds.fhir import parse_fhir_json, parse_fhir_ndjson
from joinedup.feeds.hl7v2 import parse_hl7
from joinedup.feeds.model import Message, MessageFormat, Unit
from joinedup.feeds.pipeline import (
    IngestReport,
    ReadyUnit,
    UnitOutcome,
    make_ready,
    take_ready,
    take_units,
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The time a message is received (the pipeline's clock seam)."""
    return datetime.now(UTC)


def parse_message(message: Message, spec: FeedSpec | None = None) -> list[Unit]:
    """Split a message into units with the parser for its format (CSV needs its feed's mapping)."""
    if message.format is MessageFormat.FHIR_JSON:
        return parse_fhir_json(message)
    if message.format is MessageFormat.FHIR_NDJSON:
        return parse_fhir_ndjson(message)
    if message.format is MessageFormat.HL7V2:
        return parse_hl7(message)
    if spec is None:
        raise ValueError(f"feed {message.feed}: a CSV extract needs its feed's column mapping")
    return parse_csv(message, spec.mapping)


@dataclass
class IngestRun:
    """What an ``ingest`` run did: the counts, and files that belong to no known feed."""

    report: IngestReport = field(default_factory=IngestReport)
    unknown_files: list[str] = field(default_factory=list)
    files: int = 0


def find_feed(path: Path, config: FeedConfig) -> tuple[FeedSpec, str] | None:
    """The feed and sender of a file, trying its path relative to each enclosing folder."""
    resolved = path.resolve()
    for root in resolved.parents:
        found = config.find(PurePosixPath(resolved.relative_to(root).as_posix()))
        if found is not None:
            return found
    return None


def files_under(paths: Iterable[Path]) -> list[Path]:
    """The files named, and those inside the folders named, in a stable (sorted) order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        else:
            found.append(path)
    return found


def _read_and_parse(
    job: tuple[Path, FeedSpec, str, datetime],
) -> tuple[Message, list[ReadyUnit], int]:
    """Read, parse and make ready one file; returns the message (without its body), its
    ready units and its size in bytes."""
    path, spec, partner, received_at = job
    message = Message(
        partner=partner,
        feed=spec.feed,
        format=spec.format,
        body=path.read_bytes(),
        received_at=received_at,
        name=path.name,
    )
    ready = make_ready(message, parse_message(message, spec))
    # Each unit keeps its own text for quarantine: the whole body need not travel back.
    return replace(message, body=b""), ready, len(message.body)


def _yield_to_the_writer() -> None:
    """Parsing processes run at a lower priority than the one that stores.

    Storing is serial and everything waits on it; with as many parsers as cores, the writer
    would otherwise get only its share of a core.
    """
    os.nice(5)


def ingest_files(
    sessions: sessionmaker[Session],
    files: Sequence[Path],
    *,
    config: FeedConfig,
    clock: Clock = utc_now,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> IngestRun:
    """Take in each file as a message of the feed its path belongs to, in the order given.

    With ``workers`` > 1, files are parsed, validated and made ready to store in that many
    processes while this one stores what they return, in order; validation is the costly
    part of FHIR intake.
    ``progress`` is told how many bytes each file had once it is done.
    """
    run = IngestRun()
    jobs: list[tuple[Path, FeedSpec, str, datetime]] = []
    for path in files:
        found = find_feed(path, config)
        if found is None:
            run.unknown_files.append(str(path))
            if progress is not None:
                progress(path.stat().st_size)
        else:
            jobs.append((path, found[0], found[1], clock()))

    def take(message: Message, units: list[ReadyUnit], size: int) -> None:
        take_ready(sessions, message, units, run.report)
        run.files += 1
        if progress is not None:
            progress(size)

    if workers <= 1:
        for job in jobs:
            take(*_read_and_parse(job))
        return run
    context = multiprocessing.get_context("spawn")  # workers never inherit database handles
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_yield_to_the_writer
    ) as pool:
        # A bounded window of files in flight: parsing can outpace storing, and parsed files
        # waiting in memory would otherwise pile up (pool.map submits everything at once).
        pending: deque[Future[tuple[Message, list[ReadyUnit], int]]] = deque()
        for job in jobs:
            pending.append(pool.submit(_read_and_parse, job))
            if len(pending) >= 2 * workers:
                take(*pending.popleft().result())
        while pending:
            take(*pending.popleft().result())
    return run


def ingest_message(
    sessions: sessionmaker[Session],
    message: Message,
    *,
    spec: FeedSpec | None = None,
    report: IngestReport | None = None,
) -> list[UnitOutcome]:
    """Take in one message that arrived by other means (MLLP, the FHIR API)."""
    return take_units(sessions, message, parse_message(message, spec), report)
