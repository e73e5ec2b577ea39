"""``joinedup oversight ...``: system oversight from the command line: refresh the
indicators, import the finance ledger and NHS England's A&E statistics, write the board
report, and SPC charts of any CSV."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import pairwise
from pathlib import Path

import orjson
import typer
from rich.markup import escape

from joinedup.cli.output import FormatOption, OutputFormat, errors, fail, print_json, print_table
from joinedup.directory.store import read_directory
from joinedup.oversight.catalogue import CatalogueError, load_catalogue
from joinedup.oversight.compute import MEASURES
from joinedup.oversight.dashboard import IndicatorValues
from joinedup.oversight.run import (
    DEFAULT_MONTHS,
    INDICATORS_FILE,
    FinanceError,
    import_finance,
    import_national,
    refresh_oversight,
)
from joinedup.oversight.spc import Improvement, SpcResult, xmr
from joinedup.population.lake import lake_as_of
from joinedup.population.measures import duckdb_lake
from joinedup.settings import Settings
from joinedup.storage import make_engine, session_factory
from joinedup.web.charts import ValueFormat
from joinedup.web.spc_chart import spc_chart

oversight_app = typer.Typer(
    help="System oversight: statistical process control (Making Data Count) of indicators.",
    no_args_is_help=True,
)


@oversight_app.command("refresh")
def refresh(
    months: int = typer.Option(DEFAULT_MONTHS, "--months", min=2, help="Months to report."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="The last day reported (YYYY-MM-DD; default: the lake's as-of date)."
    ),
    output: OutputFormat = FormatOption,
) -> None:
    """Compute every indicator of the catalogue, every month, for the system, partners and
    areas, from the lake (written to var/oversight/indicators.parquet)."""
    settings = Settings()
    if not (settings.lake_dir / "person.parquet").is_file():
        raise fail(f"no lake at {settings.lake_dir}: run `joinedup lake refresh` first")
    try:
        day = date.fromisoformat(as_of) if as_of else lake_as_of(settings.lake_dir) or date.today()
    except ValueError:
        raise fail(f"--as-of: expected YYYY-MM-DD, got {as_of!r}") from None
    engine = make_engine(settings)
    with session_factory(engine)() as session:
        directory = read_directory(session)
    engine.dispose()
    try:
        run = refresh_oversight(
            duckdb_lake(settings.lake_dir),
            directory=directory,
            out_dir=settings.oversight_dir,
            as_of=day,
            months=months,
            catalogue=settings.indicator_catalogue,
        )
    except CatalogueError as error:
        raise fail(str(error)) from None
    if output is OutputFormat.json:
        print_json(run.to_dict())
        return
    print_table(
        "Oversight refreshed",
        ["what", "value"],
        [[k.replace("_", " "), v] for k, v in run.to_dict().items()],
    )


@oversight_app.command("finance")
def finance(
    ledger: Path = typer.Argument(..., exists=True, dir_okay=False, help="The ICB's ledger (CSV)."),
) -> None:
    """Import the ICB's monthly finance ledger (budget and actual by partner and programme)."""
    settings = Settings()
    try:
        rows = import_finance(ledger, settings.oversight_dir)
    except FinanceError as error:
        raise fail(str(error)) from None
    errors.print(f"{rows:,} ledger rows imported; run `joinedup oversight refresh` to use them")


@oversight_app.command("national")
def national(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="NHS England's monthly A&E statistics (tidy CSV)."
    ),
) -> None:
    """Import NHS England's published A&E statistics (period, org_code, type, attendances,
    breaches, admissions) to compare providers with their peers and England."""
    settings = Settings()
    try:
        rows = import_national(file, settings.oversight_dir)
    except ValueError as error:
        raise fail(str(error)) from None
    errors.print(f"{rows:,} rows of national A&E statistics imported")


@oversight_app.command("report")
def report(
    month: str | None = typer.Option(None, "--month", help="The month (YYYY-MM; default latest)."),
    out: Path = typer.Option(
        Path("integrated-performance-report"),
        "--out",
        help="Where to write: OUT.html and OUT.pdf (any extension is replaced).",
    ),
) -> None:
    """The month's integrated performance report as HTML and PDF: the summary matrix, an SPC
    chart per indicator, and space for narrative."""
    from joinedup.web.oversight_pages import oversight_labels, render_board_report
    from joinedup.web.pdf import html_to_pdf

    settings = Settings()
    path = settings.oversight_dir / INDICATORS_FILE
    if not path.is_file():
        raise fail("no indicators yet: run `joinedup oversight refresh` first")
    wanted = None
    if month:
        try:
            wanted = date.fromisoformat(f"{month}-01")
        except ValueError:
            raise fail(f"--month: expected YYYY-MM, got {month!r}") from None
    engine = make_engine(settings)
    with session_factory(engine)() as session:
        directory = read_directory(session)
    engine.dispose()
    indicators = load_catalogue(settings.indicator_catalogue, measures=frozenset(MEASURES))
    labels = oversight_labels(directory)
    values = IndicatorValues.read(path)
    html_path, pdf_path = out.with_suffix(".html"), out.with_suffix(".pdf")
    html_path.write_text(
        render_board_report(values, indicators, wanted, labels=labels, pdf=False), encoding="utf-8"
    )
    pdf_path.write_bytes(
        html_to_pdf(render_board_report(values, indicators, wanted, labels=labels, pdf=True))
    )
    errors.print(f"wrote {html_path} and {pdf_path}")


_DATE = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")
_SHOWN = 40  # at most this much of a bad cell is quoted back in an error


class ChartFormat(StrEnum):
    """What ``spc`` writes: the numbers as JSON, or the chart as SVG or PNG."""

    json = "json"
    svg = "svg"
    png = "png"


def parse_period(text: str) -> date:
    """A date written ``YYYY-MM-DD``, or a month written ``YYYY-MM`` (its first day)."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError("expected a date as YYYY-MM-DD or a month as YYYY-MM")
    year, month, day = match.groups()
    return date(int(year), int(month), int(day or 1))


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


@dataclass(frozen=True)
class _Series:
    dates: tuple[date, ...]
    values: tuple[float, ...]


def read_series(path: Path, date_column: str, value_column: str) -> _Series:
    """The (date, value) pairs of a CSV file in date order.

    Raises ValueError naming the line and column of a missing column, an empty cell, a
    date or number that cannot be read, or a date that appears twice.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel's BOM
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for column in (date_column, value_column):
            if column not in columns:
                found = ", ".join(repr(each) for each in columns) or "none"
                raise ValueError(f"{path.name} has no column {column!r} (its columns: {found})")
        rows: list[tuple[date, float, int]] = []
        for row in reader:
            line = reader.line_num
            day_text = (row.get(date_column) or "").strip()
            value_text = (row.get(value_column) or "").strip()
            where = f"{path.name} line {line}"
            if not day_text:
                raise ValueError(f"{where}: column {date_column!r} is empty")
            if not value_text:
                raise ValueError(f"{where}: column {value_column!r} is empty")
            try:
                day = parse_period(day_text)
            except ValueError as error:
                raise ValueError(
                    f"{where}: column {date_column!r}: {_quoted(day_text)} is not a date ({error})"
                ) from None
            try:
                value = float(value_text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(
                    f"{where}: column {value_column!r}: {_quoted(value_text)} is not a number"
                )
            rows.append((day, value, line))
    if not rows:
        raise ValueError(f"{path.name} has no rows of data")
    rows.sort(key=lambda each: each[0])
    for (day, _, line), (other, _, later) in pairwise(rows):
        if day == other:
            first, second = sorted((line, later))
            raise ValueError(
                f"{path.name} lines {first} and {second}: column {date_column!r} has "
                f"{day.isoformat()} twice; give one value per date"
            )
    return _Series(tuple(day for day, _, _ in rows), tuple(value for _, value, _ in rows))


@oversight_app.command("spc")
def spc(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="A CSV file with a header row."
    ),
    date_column: str = typer.Option(
        ..., "--date-column", help="Column of dates (YYYY-MM-DD) or months (YYYY-MM)."
    ),
    value_column: str = typer.Option(..., "--value-column", help="Column of the values."),
    improvement: Improvement = typer.Option(
        ...,
        "--improvement",
        case_sensitive=False,
        help="Which way is better: increase, decrease, or neutral (neither).",
    ),
    target: float | None = typer.Option(
        None, "--target", help="The target, for the assurance icon (none without it)."
    ),
    screen: bool = typer.Option(
        True,
        "--screen/--no-screen",
        help="Leave outlying moving ranges (3.267 times their mean or more) out of the limits, "
        "as NHSRplotthedots does; --no-screen as the NHS Excel tool.",
    ),
    rebase: list[str] | None = typer.Option(
        None,
        "--rebase",
        help="Start a new segment with its own mean and limits at this date (a date of the "
        "series; repeat for more).",
    ),
    output: ChartFormat = typer.Option(
        ChartFormat.json,
        "--format",
        case_sensitive=False,
        help="json: the numbers and each point's signal; svg: the chart; png: the chart as an "
        "image at twice the SVG's size (needs --out).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="File to write; without it json and svg go to standard output (png needs one).",
    ),
    title: str | None = typer.Option(
        None, "--title", help="The chart's title (default: 'SPC chart of' the value column)."
    ),
    value_format: ValueFormat = typer.Option(
        ValueFormat.NUMBER,
        "--value-format",
        case_sensitive=False,
        help="How the chart writes values: share takes fractions (0.95 is 95%), percent takes "
        "percentages, count whole numbers, number decimals.",
    ),
) -> None:
    """A Making Data Count XmR chart of one column of a CSV file, as NHSRplotthedots draws it.

    Rows may come in any order; they are put in date order. Each point is marked common or special cause (outside the limits, a trend of 7, 2 of 3 near a limit, 7 one side of the mean), with the variation icon and, given --target, the assurance icon.
    """
    if output is ChartFormat.png and out is None:
        raise fail("--format png writes an image file: give --out FILE.png")
    try:
        rebase_dates = [parse_period(text) for text in rebase or []]
    except ValueError as error:
        raise fail(escape(f"--rebase: {error}")) from None
    try:
        series = read_series(file, date_column, value_column)
        result = xmr(
            series.values,
            series.dates,
            improvement=improvement,
            target=target,
            screen=screen,
            rebase=rebase_dates,
        )
    except ValueError as error:
        # Escaped: column names and cells come from the file, and Rich would read "[x]" as markup.
        raise fail(escape(str(error))) from None
    if output is ChartFormat.json:
        if out is None:
            print_json(result.to_dict())
        else:
            out.write_bytes(
                orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
            )
            errors.print(f"wrote {out}")
        return
    svg = _chart(result, title or f"SPC chart of {value_column}", value_column, value_format)
    if output is ChartFormat.svg:
        if out is None:
            typer.echo(svg)
        else:
            out.write_text(svg, encoding="utf-8")
            errors.print(f"wrote {out}")
        return
    # Imported here: cairosvg loads the system's libcairo, which only PNG output needs.
    import cairosvg

    assert out is not None  # checked above
    out.write_bytes(cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=2))
    errors.print(f"wrote {out}")


def _chart(result: SpcResult, title: str, value_label: str, value_format: ValueFormat) -> str:
    return str(
        spc_chart(
            result,
            title=title,
            value_label=value_label,
            value_format=value_format,
            show_title=True,
        )
    )
