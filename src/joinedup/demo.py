"""The demo: a synthetic ICS generated, taken in through the feeds pipeline, linked, ready to serve.

The demo drives the same pipeline real partners' data would take: every synthetic feed is
ingested (validated, quarantined where bad), the person index is linked with Splink, and
the directory and registered population are loaded for the home page; the analysts' lake
is refreshed, population health run on it (risk model, measures, cohorts, needs), and
system oversight's indicators computed (with the ICB's finance ledger). When ``var/``
already holds a demo made with the same directory file, size, seed and period, all of that
is skipped, so a second ``make demo`` starts in seconds.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select

from joinedup.directory import load_directory
from joinedup.directory.store import (
    read_directory,
    read_population_csv,
    save_directory,
    save_registered_population,
)
from joinedup.feeds.config import feeds_file_for, load_feed_config
from joinedup.feeds.intake import files_under, ingest_files
from joinedup.identity.batch import run_linkage
from joinedup.oversight.run import INDICATORS_FILE, import_finance, refresh_oversight
from joinedup.population.lake import SCHEMAS, refresh_lake
from joinedup.population.measures import duckdb_lake
from joinedup.population.run import PERSON_MEASURES, STEPS, run_population
from joinedup.referrals.rules import load_rules
from joinedup.referrals.store import Centre, count_referrals
from joinedup.referrals.synthetic import generate_flow
from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory
from joinedup.synthetic import generate_ics
from joinedup.virtual_wards import tables as ward_tables
from joinedup.virtual_wards.config import load_wards
from joinedup.virtual_wards.store import VirtualWards
from joinedup.virtual_wards.synthetic import generate_wards_flow

#: A modest population, so the demo is ready in a few minutes on a laptop.
DEMO_PEOPLE = 10_000
DEMO_SEED = 2026
DEMO_YEARS = 3
#: The synthetic referral flow: days up to now, and referrals a day (about).
REFERRAL_DAYS = 56
REFERRALS_PER_DAY = 12
#: The synthetic virtual-ward flow: days of stays, readings and escalations up to now.
WARD_DAYS = 28

POPULATION_FILE = Path("published") / "gp-registered-patients.csv"

#: Starts a stage of work with a description and a total; returns how to report progress.
Stage = Callable[[str, int], Callable[[int], None]]


def _no_progress(_description: str, _total: int) -> Callable[[int], None]:
    return lambda _done: None


@dataclass(frozen=True)
class DemoSummary:
    """What the demo preparation did."""

    people: int
    seed: int
    years: int
    generated: bool  # False when an earlier identical demo was reused
    synthetic_dir: str
    database: str
    areas: int
    organisations: int
    services: int
    registered_patients: int
    ingest: dict[str, Any] = field(default_factory=dict)
    linkage: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready data."""
        return asdict(self)


def prepare_demo(
    settings: Settings,
    *,
    people: int = DEMO_PEOPLE,
    seed: int = DEMO_SEED,
    years: int = DEMO_YEARS,
    stage: Stage = _no_progress,
    workers: int = 2,
) -> DemoSummary:
    """Generate, ingest and link a synthetic ICS (or reuse an identical one) and load the store."""
    directory = load_directory(settings.directory_file)
    feeds_file = feeds_file_for(settings.directory_file)
    config = load_feed_config(feeds_file)
    out = settings.synthetic_dir
    wanted = {
        "people": people,
        "seed": seed,
        "years": years,
        "directory_sha256": _sha256(settings.directory_file),
        "feeds_sha256": _sha256(feeds_file),
        "database": settings.operational_url,
    }
    marker = settings.var_dir / "demo.json"
    previous = orjson.loads(marker.read_bytes()) if marker.is_file() else None
    generated = previous != wanted or not out.is_dir()
    if generated:
        marker.unlink(missing_ok=True)
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        if settings.database_url is None:
            # The embedded store holds the old demo's records: start it afresh too.
            for suffix in ("", "-wal", "-shm"):
                (settings.var_dir / f"joinedup.sqlite{suffix}").unlink(missing_ok=True)
        generate_ics(
            directory=directory,
            people=people,
            seed=seed,
            years=years,
            out=out,
            workers=workers,
            progress=stage("Generating the synthetic ICS (people)", people),
        )

    counts = read_population_csv(out / POPULATION_FILE)
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    engine = make_engine(settings)
    ingest: dict[str, Any] = {}
    linkage: dict[str, Any] = {}
    try:
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as session:
            save_directory(session, directory)
            save_registered_population(session, counts)
            session.commit()
        if generated:
            files = files_under([out / "feeds"])
            run = ingest_files(
                sessions,
                files,
                config=config,
                workers=workers,
                progress=stage(
                    "Taking in partner feeds (bytes)", sum(f.stat().st_size for f in files)
                ),
            )
            # The finance ledger is not a feed the record takes in (oversight will read it):
            # it is reported as a file no feed matches, by its path within the feeds folder.
            ingest = {
                **run.report.to_dict()["total"],
                "files": run.files,
                "unknown_files": [
                    str(Path(f).relative_to(out / "feeds")) for f in run.unknown_files
                ],
            }
            linked = stage("Linking the person index", 1)
            linkage = run_linkage(
                sessions,
                model_path=settings.identity_model_path,
                at=datetime.now(UTC),
                retrain=True,
            ).to_dict()
            linked(1)
            marker.write_bytes(orjson.dumps(wanted))
        # The single point of access: eight weeks of referrals up to now, worked through;
        # and the virtual wards. Before the lake, so oversight counts them on the first run.
        with sessions() as session:
            no_referrals = count_referrals(session) == 0
            directory_now = read_directory(session)
        if no_referrals and directory_now is not None:
            weeks = stage("Referrals into the single point of access (days)", REFERRAL_DAYS)
            generate_flow(
                sessions,
                Centre(directory_now, load_rules(settings.routing_rules)),
                days=REFERRAL_DAYS,
                per_day=REFERRALS_PER_DAY,
                until=datetime.now(UTC),
                seed=seed,
                progress=weeks,
            )
        # Virtual wards: four weeks of stays up to now, readings, escalations and all.
        with sessions() as session:
            stays = session.execute(select(func.count()).select_from(ward_tables.admission))
            no_admissions = stays.scalar_one() == 0
        if no_admissions and directory_now is not None:
            ward_days = stage("Virtual wards: stays, readings and escalations (days)", WARD_DAYS)
            generate_wards_flow(
                sessions,
                VirtualWards(load_wards(settings.virtual_wards_file, directory_now)),
                days=WARD_DAYS,
                until=datetime.now(UTC),
                seed=seed,
                progress=ward_days,
            )
        # The analysts' lake: rewritten only where the record changed since the last run.
        refreshed = stage("Refreshing the analytical lake (tables)", len(SCHEMAS))
        with sessions() as session:
            lake_run = refresh_lake(
                session,
                settings.lake_dir,
                reference_dir=settings.reference_path,
                # The synthetic ICS's records end on its period's last day: look back from there.
                as_of=date.fromisoformat(manifest["period"]["end"]),
                progress=lambda _table: refreshed(1),
            )
        # Population health on the lake: the risk model, person measures, cohorts, needs.
        if lake_run.written or not (settings.population_dir / PERSON_MEASURES).is_file():
            ran = stage("Population health (steps)", len(STEPS))
            run_population(
                duckdb_lake(settings.lake_dir),
                date.fromisoformat(manifest["period"]["end"]),
                out_dir=settings.population_dir,
                progress=lambda _step: ran(1),
            )
        # System oversight: the ICB's finance ledger, then every indicator by month.
        if lake_run.written or not (settings.oversight_dir / INDICATORS_FILE).is_file():
            for ledger in sorted((out / "feeds").glob("icb-*/finance/ledger.csv")):
                import_finance(ledger, settings.oversight_dir)
            refreshed_oversight = stage("System oversight (indicators)", 1)
            with sessions() as session:
                directory_now = read_directory(session)
            refresh_oversight(
                duckdb_lake(settings.lake_dir),
                directory=directory_now,
                out_dir=settings.oversight_dir,
                as_of=date.fromisoformat(manifest["period"]["end"]),
                catalogue=settings.indicator_catalogue,
            )
            refreshed_oversight(1)
    finally:
        engine.dispose()
    return DemoSummary(
        people=people,
        seed=seed,
        years=years,
        generated=generated,
        synthetic_dir=str(out),
        database=engine.url.render_as_string(hide_password=True),
        areas=len(directory.areas),
        organisations=len(directory.organisations),
        services=len(directory.services),
        registered_patients=sum(c.count for c in counts),
        ingest=ingest,
        linkage=linkage,
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
