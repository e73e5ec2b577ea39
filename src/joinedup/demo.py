"""The demo: a synthetic ICS generated, loaded into the operational store, ready to serve.

Generation is skipped when ``var/`` already holds a synthetic ICS made with the same
directory file, size, seed and period, so a second ``make demo`` starts in seconds.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from joinedup.directory import load_directory
from joinedup.directory.store import read_population_csv, save_directory, save_registered_population
from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory
from joinedup.synthetic import generate_ics

#: A modest population, so the demo is ready in a few minutes on a laptop.
DEMO_PEOPLE = 20_000
DEMO_SEED = 2026
DEMO_YEARS = 3

POPULATION_FILE = Path("published") / "gp-registered-patients.csv"


@dataclass(frozen=True)
class DemoSummary:
    """What the demo preparation did."""

    people: int
    seed: int
    years: int
    generated: bool  # False when an earlier identical synthetic ICS was reused
    synthetic_dir: str
    database: str
    areas: int
    organisations: int
    services: int
    registered_patients: int

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready data."""
        return asdict(self)


def prepare_demo(
    settings: Settings,
    *,
    people: int = DEMO_PEOPLE,
    seed: int = DEMO_SEED,
    years: int = DEMO_YEARS,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Generate (or reuse) the synthetic ICS and load the directory and population into the store."""
    directory = load_directory(settings.directory_file)
    out = settings.synthetic_dir
    wanted = {
        "people": people,
        "seed": seed,
        "years": years,
        "directory_sha256": hashlib.sha256(settings.directory_file.read_bytes()).hexdigest(),
    }
    marker = settings.var_dir / "demo.json"
    generated = not (
        marker.is_file() and orjson.loads(marker.read_bytes()) == wanted and out.is_dir()
    )
    if generated:
        marker.unlink(missing_ok=True)
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        generate_ics(
            directory=directory, people=people, seed=seed, years=years, out=out, progress=progress
        )
        marker.write_bytes(orjson.dumps(wanted))

    counts = read_population_csv(out / POPULATION_FILE)
    engine = make_engine(settings)
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            save_directory(session, directory)
            save_registered_population(session, counts)
            session.commit()
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
    )
