"""``joinedup lake`` (the pseudonymised analytical lake) and ``joinedup population``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from joinedup.cli.output import FormatOption, OutputFormat, errors, fail, print_json, print_table
from joinedup.population.cohorts import SHIPPED_COHORTS, CohortError, load_cohort, run_cohort
from joinedup.population.lake import refresh_lake
from joinedup.population.measures import duckdb_lake
from joinedup.settings import Settings
from joinedup.storage import make_engine, session_factory

lake_app = typer.Typer(help="The analytical lake: pseudonymised Parquet tables for analysts.")


@lake_app.command("refresh")
def refresh(
    as_of: str | None = typer.Option(
        None, "--as-of", help="Date ages are worked out on (YYYY-MM-DD; default today)."
    ),
    output: OutputFormat = FormatOption,
) -> None:
    """Bring the lake up to date with the operational store (only changed tables)."""
    settings = Settings()
    engine = make_engine(settings)
    try:
        with session_factory(engine)() as session:
            run = refresh_lake(
                session,
                settings.lake_dir,
                reference_dir=settings.reference_path,
                as_of=date.fromisoformat(as_of) if as_of else None,
                progress=lambda table: errors.print(f"writing {table}"),
            )
    finally:
        engine.dispose()
    if output is OutputFormat.json:
        print_json({"lake": str(settings.lake_dir), **run.to_dict()})
        return
    print_table(
        f"Lake at {settings.lake_dir}",
        ["table", "rows"],
        [[t, f"{n:,}"] for t, n in run.written.items()] + [[t, "unchanged"] for t in run.unchanged],
    )
    errors.print(
        f"{run.people:,} people; {run.opted_out:,} left out for their National Data Opt-out"
    )


population_app = typer.Typer(help="Population health: measures and cohorts over the lake.")


@population_app.command("cohort")
def cohort(
    files: list[Path] = typer.Argument(
        None, help="Cohort definition files (YAML); the shipped cohorts if none are given."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Date the rules look back from (YYYY-MM-DD; default today)."
    ),
    output: OutputFormat = FormatOption,
) -> None:
    """Run cohort definitions over the lake and report their attrition rule by rule."""
    settings = Settings()
    if not (settings.lake_dir / "person.parquet").is_file():
        raise fail(f"no lake at {settings.lake_dir}: run `joinedup lake refresh` first")
    paths = files or sorted(SHIPPED_COHORTS.glob("*.yaml"))
    day = date.fromisoformat(as_of) if as_of else date.today()
    lake = duckdb_lake(settings.lake_dir)
    results = []
    for path in paths:
        try:
            results.append(run_cohort(load_cohort(path), lake, day).to_dict())
        except CohortError as error:
            raise fail(str(error)) from None
    if output is OutputFormat.json:
        print_json({"as_of": day.isoformat(), "cohorts": results})
        return
    for result in results:
        print_table(
            f"{result['cohort']}: {result['size']:,} people",
            ["rule", "remaining", "removed"],
            [[s["rule"], f"{s['remaining']:,}", f"{s['removed']:,}"] for s in result["attrition"]],
        )
