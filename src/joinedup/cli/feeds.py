"""``joinedup ingest`` and ``joinedup feeds ...``: taking in partners' data and its quarantine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from joinedup.cli.output import FormatOption, OutputFormat, errors, fail, print_json, print_table
from joinedup.feeds.config import FeedConfig, FeedConfigError, feeds_file_for, load_feed_config
from joinedup.feeds.intake import files_under, ingest_files, utc_now
from joinedup.feeds.pipeline import IngestReport, Outcome
from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory

feeds_app = typer.Typer(help="Partners' feeds: the quarantine, replays, the MLLP listener.")

FeedsFileOption = typer.Option(
    None, "--feeds", help="Feeds file (YAML); the one beside the directory file by default."
)


def _config(settings: Settings, feeds_file: Path | None) -> FeedConfig:
    try:
        return load_feed_config(feeds_file or feeds_file_for(settings.directory_file))
    except FeedConfigError as error:
        raise fail(str(error)) from None


def print_ingest_report(
    report: IngestReport, output: OutputFormat, extra: dict[str, object]
) -> None:
    """The accepted/rejected/merged summary by feed, for people or as JSON."""
    data = {**report.to_dict(), **extra}
    if output is OutputFormat.json:
        print_json(data)
        return
    rows = [
        [feed, t["accepted"], t["rejected"], t["duplicates"], t["merged"], t["resources"]]
        for feed, t in data["feeds"].items()
    ]
    total = data["total"]
    rows.append(
        [
            "total",
            total["accepted"],
            total["rejected"],
            total["duplicates"],
            total["merged"],
            total["resources"],
        ]
    )
    print_table(
        "Ingest summary",
        ["feed", "accepted", "rejected", "duplicates", "merged", "resources"],
        rows,
    )


def ingest(
    paths: list[Path] = typer.Argument(..., exists=True, help="Files or folders of partner feeds."),
    feeds_file: Path | None = FeedsFileOption,
    workers: int = typer.Option(2, "--workers", min=1, help="Processes that parse and validate."),
    output: OutputFormat = FormatOption,
) -> None:
    """Take in partner feeds: detect each file's feed and format, validate, store or quarantine."""
    settings = Settings()
    config = _config(settings, feeds_file)
    files = files_under(paths)
    engine = make_engine(settings)
    try:
        migrate(engine)
        with Progress(
            TextColumn("[bold]Ingesting"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=errors,
        ) as progress:
            task = progress.add_task("ingest", total=sum(f.stat().st_size for f in files))
            run = ingest_files(
                session_factory(engine),
                files,
                config=config,
                workers=workers,
                progress=lambda n: progress.advance(task, n),
            )
    finally:
        engine.dispose()
    print_ingest_report(
        run.report, output, {"files": run.files, "unknown_files": run.unknown_files}
    )
    if run.unknown_files and output is OutputFormat.text:
        errors.print(
            f"[yellow]{len(run.unknown_files)} file(s) match no feed in the feeds file "
            "and were not read[/]"
        )


@feeds_app.command("quarantine")
def quarantine(
    show_all: bool = typer.Option(False, "--all", help="Include entries already replayed."),
    output: OutputFormat = FormatOption,
) -> None:
    """List quarantined (rejected) units with their reasons."""
    from joinedup.feeds.quarantine import list_quarantine

    engine = make_engine(Settings())
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            entries = list_quarantine(session, status=None if show_all else "open")
    finally:
        engine.dispose()
    if output is OutputFormat.json:
        print_json([e.to_dict() for e in entries])
        return
    print_table(
        f"Quarantine: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}",
        ["id", "received", "partner/feed", "file", "where", "status", "reason"],
        [
            [
                e.id,
                f"{e.received_at:%Y-%m-%d %H:%M}",
                f"{e.partner}/{e.feed}",
                e.name,
                e.label,
                e.status,
                "; ".join(f"{i['location']}: {i['diagnostics']}" for i in e.issues),
            ]
            for e in entries
        ],
    )


@feeds_app.command("show")
def show(entry_id: int = typer.Argument(..., help="Quarantine entry id.")) -> None:
    """Print a quarantined unit's original bytes (to fix it and replay it)."""
    from joinedup.feeds.quarantine import original_of

    engine = make_engine(Settings())
    try:
        with session_factory(engine)() as session:
            body = original_of(session, entry_id)
    except KeyError:
        raise fail(f"no quarantine entry {entry_id}") from None
    finally:
        engine.dispose()
    typer.echo(body.decode("utf-8", errors="replace"))


@feeds_app.command("replay")
def replay(
    entry_id: int = typer.Argument(..., help="Quarantine entry id."),
    fixed: Path | None = typer.Option(
        None, "--file", exists=True, help="The fixed message; the original if not given."
    ),
    feeds_file: Path | None = FeedsFileOption,
    output: OutputFormat = FormatOption,
) -> None:
    """Replay a quarantined unit (as fixed in --file); it is marked replayed once taken."""
    from joinedup.feeds.quarantine import replay as replay_entry

    settings = Settings()
    config = _config(settings, feeds_file)
    engine = make_engine(settings)
    try:
        outcomes = replay_entry(
            session_factory(engine),
            entry_id,
            config=config,
            fixed=fixed.read_bytes() if fixed else None,
        )
    except KeyError:
        raise fail(f"no quarantine entry {entry_id}") from None
    finally:
        engine.dispose()
    result = [
        {"label": o.label, "outcome": o.outcome.value, "issues": [str(i) for i in o.issues]}
        for o in outcomes
    ]
    if output is OutputFormat.json:
        print_json(result)
    else:
        print_table(
            f"Replay of quarantine entry {entry_id}",
            ["unit", "outcome", "issues"],
            [[r["label"], r["outcome"], "; ".join(r["issues"])] for r in result],
        )
    if any(o.outcome is Outcome.REJECTED for o in outcomes):
        raise typer.Exit(code=1)


@feeds_app.command("listen")
def listen(
    mllp: int = typer.Option(..., "--mllp", help="Port for HL7 v2 over MLLP (127.0.0.1)."),
    feed: str = typer.Option("acute-adt", "--feed", help="The feed the messages belong to."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    feeds_file: Path | None = FeedsFileOption,
) -> None:
    """Listen for HL7 v2 ADT over MLLP; answer every message with an ACK (AA, AE or AR)."""
    from joinedup.feeds.listener import serve_feed

    settings = Settings()
    config = _config(settings, feeds_file)
    try:
        spec = config.spec(feed)
    except KeyError:
        raise fail(f"no feed {feed!r} in the feeds file") from None
    if spec.partner is None:
        raise fail(f"feed {feed!r} has no fixed partner; MLLP needs one")
    engine = make_engine(settings)
    migrate(engine)
    errors.print(
        f"Listening for HL7 v2 over MLLP on {host}:{mllp} as {spec.partner}/{feed} (Ctrl+C to stop)"
    )
    try:
        asyncio.run(serve_feed(session_factory(engine), spec, host=host, port=mllp, clock=utc_now))
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()
