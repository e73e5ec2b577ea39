"""``joinedup``: generate a synthetic ICS, prepare the demo, serve the web app."""

from __future__ import annotations

from pathlib import Path

import typer

from joinedup import __version__
from joinedup.cli.audit import app as audit_app
from joinedup.cli.feeds import feeds_app, ingest
from joinedup.cli.identity import identity_app
from joinedup.cli.output import (
    FormatOption,
    OutputFormat,
    errors,
    fail,
    print_json,
    print_table,
    progress_bars,
)
from joinedup.cli.oversight import oversight_app
from joinedup.cli.population import lake_app, population_app
from joinedup.cli.referrals import referrals_app
from joinedup.cli.virtual_wards import virtual_wards_app
from joinedup.directory import DirectoryError, load_directory
from joinedup.settings import Settings

app = typer.Typer(
    name="joinedup",
    help="JoinedUp: the platform an Integrated Care System runs to join up care across its partners.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(ingest)
app.add_typer(feeds_app, name="feeds")
app.add_typer(identity_app, name="identity")
app.add_typer(audit_app, name="audit")
app.add_typer(lake_app, name="lake")
app.add_typer(population_app, name="population")
app.add_typer(oversight_app, name="oversight")
app.add_typer(referrals_app, name="referrals")
app.add_typer(virtual_wards_app, name="virtual-wards")


@app.command()
def version() -> None:
    """Print JoinedUp's version."""
    typer.echo(__version__)


@app.command()
def synth(
    out: Path = typer.Option(
        ..., "--out", help="Folder to write the synthetic ICS into (new or empty)."
    ),
    people: int = typer.Option(2_000, "--people", min=1, help="Number of residents."),
    seed: int = typer.Option(
        1, "--seed", help="Random seed: the same seed and size give identical output."
    ),
    years: int = typer.Option(
        3, "--years", min=1, max=20, help="Years of activity, ending 31 March 2026."
    ),
    workers: int = typer.Option(
        2, "--workers", min=1, help="Processes to generate with (output is the same)."
    ),
    directory_file: Path | None = typer.Option(
        None, "--directory", help="ICS directory file (YAML); the shipped Cornwall one by default."
    ),
    output: OutputFormat = FormatOption,
) -> None:
    """Generate a synthetic ICS: its people and the feeds its partners send, plus ground truth."""
    from joinedup.synthetic import generate_ics

    settings = Settings()
    try:
        directory = load_directory(directory_file or settings.directory_file)
    except DirectoryError as error:
        raise fail(str(error)) from None
    try:
        with progress_bars() as stage:
            advance = stage("Generating people", people)
            summary = generate_ics(
                directory=directory,
                people=people,
                seed=seed,
                years=years,
                out=out,
                workers=workers,
                progress=advance,
            )
    except (FileExistsError, ValueError) as error:
        raise fail(str(error)) from None
    result = summary.to_dict()
    if output is OutputFormat.json:
        print_json(result)
        return
    print_table(
        f"Synthetic ICS: {people:,} people, seed {seed}, {years} years → {out}",
        ["feed", "records", "records/s"],
        [
            [feed, count, f"{result['records_per_second'].get(feed, 0):,.0f}"]
            for feed, count in sorted(result["records"].items())
        ],
    )
    typer.echo(f"{result['files']:,} files in {result['seconds']:.1f} s")


@app.command()
def demo(
    serve_after: bool = typer.Option(
        True, "--serve/--no-serve", help="Serve the web app afterwards."
    ),
    people: int | None = typer.Option(
        None, "--people", min=100, help="Residents in the demo ICS (default 10,000)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed of the demo ICS (2026)."),
    port: int | None = typer.Option(None, "--port", help="Port to serve on (default 8000)."),
    output: OutputFormat = FormatOption,
) -> None:
    """Prepare the demo on the embedded default (SQLite and DuckDB under ./var/) and serve it."""
    from joinedup.demo import DEMO_PEOPLE, DEMO_SEED, prepare_demo

    # The demo signs people in with the built-in development identity provider.
    settings = Settings(dev_idp=True) if port is None else Settings(dev_idp=True, port=port)
    try:
        with progress_bars() as stage:
            summary = prepare_demo(
                settings,
                people=DEMO_PEOPLE if people is None else people,
                seed=DEMO_SEED if seed is None else seed,
                stage=stage,
            )
    except DirectoryError as error:
        raise fail(str(error)) from None
    if output is OutputFormat.json:
        print_json(summary.to_dict())
    else:
        print_table(
            "Demo ICS ready",
            ["what", "value"],
            [
                [key.replace("_", " "), value]
                for key, value in summary.to_dict().items()
                if not isinstance(value, dict)
            ],
        )
        if summary.ingest:
            print_table(
                "Feeds taken in", ["what", "count"], [[k, v] for k, v in summary.ingest.items()]
            )
            print_table(
                "Person index",
                ["what", "value"],
                [[k.replace("_", " "), v] for k, v in summary.linkage.items()],
            )
    if serve_after:
        _serve(settings)


@app.command()
def serve(
    port: int | None = typer.Option(None, "--port", help="Port (default 8000, or JOINEDUP_PORT)."),
    host: str | None = typer.Option(None, "--host", help="Address (default 127.0.0.1)."),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Server processes (each reads the settings from JOINEDUP_*)."
    ),
) -> None:
    """Serve the web app and the API (http://127.0.0.1:8000 by default)."""
    overrides: dict[str, object] = {}
    if port is not None:
        overrides["port"] = port
    if host is not None:
        overrides["host"] = host
    _serve(Settings(**overrides), workers=workers)  # type: ignore[arg-type]


def _serve(settings: Settings, workers: int = 1) -> None:
    import uvicorn

    from joinedup.api.app import create_app

    errors.print(f"Serving JoinedUp at http://{settings.host}:{settings.port} (Ctrl+C to stop)")
    if workers > 1:
        # Each process makes its own app from the environment's settings.
        uvicorn.run(
            "joinedup.api.app:create_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_level="warning",
        )
        return
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    app()
