"""``joinedup lake`` (the pseudonymised analytical lake) and ``joinedup population``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from joinedup.cli.output import FormatOption, OutputFormat, errors, fail, print_json, print_table
from joinedup.population.cohorts import SHIPPED_COHORTS, CohortError, load_cohort, run_cohort
from joinedup.population.inequalities import DIMENSIONS, breakdown
from joinedup.population.lake import lake_as_of, refresh_lake
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
        None,
        "--as-of",
        help="Date the rules look back from (YYYY-MM-DD; default: the lake's as-of date).",
    ),
    by: str | None = typer.Option(
        None,
        "--by",
        help=f"Break each cohort down by one of: {', '.join(DIMENSIONS)} (rates with 95% "
        "confidence intervals; groups under 5 suppressed).",
    ),
    output: OutputFormat = FormatOption,
) -> None:
    """Run cohort definitions over the lake and report their attrition rule by rule."""
    if by is not None and by not in DIMENSIONS:
        raise fail(f"--by: expected one of {', '.join(DIMENSIONS)}")
    settings = Settings()
    if not (settings.lake_dir / "person.parquet").is_file():
        raise fail(f"no lake at {settings.lake_dir}: run `joinedup lake refresh` first")
    paths = files or sorted(SHIPPED_COHORTS.glob("*.yaml"))
    day = date.fromisoformat(as_of) if as_of else lake_as_of(settings.lake_dir) or date.today()
    lake = duckdb_lake(settings.lake_dir)
    results = []
    for path in paths:
        try:
            run = run_cohort(load_cohort(path), lake, day)
        except CohortError as error:
            raise fail(str(error)) from None
        result = run.to_dict()
        if by is not None:
            result["by"] = by
            result["groups"] = [
                g.__dict__ for g in breakdown(run.entered, run.people, lake.person, by)
            ]
        results.append(result)
    if output is OutputFormat.json:
        print_json({"as_of": day.isoformat(), "cohorts": results})
        return
    for result in results:
        print_table(
            f"{result['cohort']}: {result['size']:,} people",
            ["rule", "remaining", "removed"],
            [[s["rule"], f"{s['remaining']:,}", f"{s['removed']:,}"] for s in result["attrition"]],
        )
        if by is not None:
            print_table(
                f"by {by}: share of those who entered (95% CI); under 5 suppressed",
                [by, "in cohort", "entered", "rate"],
                [
                    [
                        str(g["group"]),
                        "<5" if g["suppressed"] else f"{g['numerator']:,}",
                        f"{g['denominator']:,}",
                        "suppressed"
                        if g["suppressed"]
                        else f"{g['rate']:.1%} ({g['ci_low']:.1%} to {g['ci_high']:.1%})",
                    ]
                    for g in result["groups"]
                ],
            )
