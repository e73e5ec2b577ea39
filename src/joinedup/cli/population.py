"""``joinedup lake``: the pseudonymised analytical lake."""

from __future__ import annotations

from datetime import date

import typer

from joinedup.cli.output import FormatOption, OutputFormat, errors, print_json, print_table
from joinedup.population.lake import refresh_lake
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
