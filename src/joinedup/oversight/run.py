"""Refreshing oversight: every indicator, every month, for the system, partners and areas.

``joinedup oversight refresh`` (and the demo) call :func:`refresh_oversight`. It reads the
lake, the directory (beds and virtual beds; the ICS's residents) and the finance ledger the
ICB imported (:func:`import_finance`), computes the catalogue's indicators and writes them,
one row per indicator, level, group and month, to ``var/oversight/indicators.parquet``: what
the dashboard, the board report and ``joinedup oversight spc`` read.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from joinedup.directory.model import Directory, OrganisationKind
from joinedup.oversight.catalogue import DEFAULT_CATALOGUE, Indicator, load_catalogue
from joinedup.oversight.compute import MEASURES, Context, compute_indicators, months_ending
from joinedup.oversight.national import read_ae_attendances, write_national
from joinedup.population.measures import Lake, registered_population

INDICATORS_FILE: Final = "indicators.parquet"
FINANCE_FILE: Final = "finance.parquet"
NATIONAL_FILE: Final = "national-ae.parquet"
#: Months reported (three years, as the board looks back).
DEFAULT_MONTHS: Final = 36

FINANCE_SCHEMA: Final = pa.schema(
    [
        ("month", pa.date32()),
        ("partner", pa.string()),
        ("programme", pa.string()),
        ("budget", pa.float64()),
        ("actual", pa.float64()),
    ]
)


class FinanceError(ValueError):
    """The ledger is wrong: the message names the row and the column."""


def import_finance(ledger: Path, out_dir: Path) -> int:
    """Check the ICB's monthly ledger (a CSV with ``month`` (YYYY-MM), ``organisation_code``,
    ``programme``, ``budget_gbp``, ``actual_gbp``) and keep it for oversight; its rows.
    Nothing is written unless every row is right."""
    rows: list[dict[str, Any]] = []
    with ledger.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"month", "organisation_code", "programme", "budget_gbp", "actual_gbp"} - set(
            reader.fieldnames or ()
        )
        if missing:
            raise FinanceError(f"{ledger.name}: missing columns {', '.join(sorted(missing))}")
        for number, row in enumerate(reader, start=2):
            where = f"{ledger.name} row {number}"
            try:
                month = date.fromisoformat(f"{row['month']}-01")
            except ValueError:
                raise FinanceError(f"{where}, month: expected YYYY-MM") from None
            values = {}
            for column in ("budget_gbp", "actual_gbp"):
                try:
                    values[column] = float(row[column])
                except ValueError:
                    raise FinanceError(f"{where}, {column}: expected a number") from None
            if not row["organisation_code"] or not row["programme"]:
                raise FinanceError(f"{where}: organisation_code and programme are required")
            rows.append(
                {
                    "month": month,
                    "partner": row["organisation_code"],
                    "programme": row["programme"],
                    "budget": values["budget_gbp"],
                    "actual": values["actual_gbp"],
                }
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(pa.Table.from_pylist(rows, schema=FINANCE_SCHEMA), out_dir / FINANCE_FILE)
    return len(rows)


def import_national(path: Path, out_dir: Path) -> int:
    """Check NHS England's monthly A&E statistics (the tidy CSV: period, org_code, type,
    attendances, breaches, admissions) and keep them for benchmarking; their rows."""
    data = read_ae_attendances(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_national(data, out_dir / NATIONAL_FILE)
    return int(data.table.num_rows)


def acute_beds(directory: Directory | None, lake: Lake) -> dict[str, int]:
    """General and acute beds by acute trust. A synthetic ICS smaller than the one the
    directory describes gets proportionally fewer, so occupancy reads as it would at full
    size (the registered population over the places' residents)."""
    if directory is None:
        return {}
    residents = sum(p.population for p in directory.places if p.population)
    registered = int(registered_population(lake).count().to_pyarrow().as_py())
    scale = min(1.0, registered / residents) if residents else 1.0
    return {
        o.ods_code: max(1, round(o.beds * scale))
        for o in directory.organisations_of_kind(OrganisationKind.ACUTE_TRUST)
        if o.beds
    }


def virtual_beds(directory: Directory | None) -> dict[str, int]:
    """Virtual beds by provider: the capacity of its ``virtual_ward`` services in the
    directory. Not scaled to a smaller synthetic ICS, as general and acute beds are: the
    wards admit up to these beds whatever the population."""
    beds: dict[str, int] = {}
    for service in directory.services if directory else ():
        if service.type == "virtual_ward" and service.capacity:
            beds[service.provider] = beds.get(service.provider, 0) + int(service.capacity.amount)
    return beds


@dataclass(frozen=True)
class OversightRun:
    """What a refresh did."""

    months: tuple[date, ...]
    indicators: int  # computed (the others wait for the parts that make their events)
    rows: int
    seconds: float
    path: Path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "from": self.months[0].isoformat(),
            "to": self.months[-1].isoformat(),
            "indicators": self.indicators,
            "rows": self.rows,
            "seconds": round(self.seconds, 2),
            "path": str(self.path),
        }


def refresh_oversight(
    lake: Lake,
    *,
    directory: Directory | None,
    out_dir: Path,
    as_of: date,
    months: int = DEFAULT_MONTHS,
    catalogue: Path = DEFAULT_CATALOGUE,
) -> OversightRun:
    """Compute every indicator for the ``months`` up to ``as_of`` and write them."""
    began = time.perf_counter()
    indicators: list[Indicator] = load_catalogue(catalogue, measures=frozenset(MEASURES))
    finance_path = out_dir / FINANCE_FILE
    finance = ibis.memtable(pq.read_table(finance_path)) if finance_path.is_file() else None
    ctx = Context(
        months=months_ending(as_of, months),
        beds=acute_beds(directory, lake),
        finance=finance,
        virtual_beds=virtual_beds(directory),
        as_of=as_of,
    )
    table = compute_indicators(lake, indicators, ctx)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / INDICATORS_FILE
    _write(table, path)
    return OversightRun(
        ctx.months,
        sum(1 for i in indicators if i.available),
        table.num_rows,
        time.perf_counter() - began,
        path,
    )


def _write(table: pa.Table, path: Path) -> None:
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(table, partial, compression="zstd")
    os.replace(partial, path)
