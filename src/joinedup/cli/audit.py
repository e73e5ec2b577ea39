"""``joinedup audit ...``: check the audit trail's hash chain and list recent entries."""

from __future__ import annotations

from enum import StrEnum

import typer

from joinedup.cli.output import errors, print_json, print_table
from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory

app = typer.Typer(help="The audit trail: verify its hash chain, list recent entries.")


class AuditFormat(StrEnum):
    """``table`` (or ``text``) for people, ``json`` for scripts."""

    table = "table"
    text = "text"
    json = "json"


FormatOption = typer.Option(
    AuditFormat.table,
    "--format",
    help="table for people, json for scripts",
    case_sensitive=False,
)


@app.command("verify")
def verify_command(output: AuditFormat = FormatOption) -> None:
    """Check every entry's hash and link; exit 1 naming the first entry edited, inserted or deleted."""
    from joinedup.access.audit import verify

    engine = make_engine(Settings())
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            result = verify(session)
    finally:
        engine.dispose()
    if output is AuditFormat.json:
        print_json(result.to_dict())
    elif result.ok:
        typer.echo(f"audit chain verified: {result.entries} entries")
    if not result.ok:
        errors.print(
            f"[bold red]error:[/] audit chain broken at entry {result.first_bad_seq}: "
            f"{result.problem} ({result.detail}); {result.entries} entries before it are intact"
        )
        raise typer.Exit(code=1)


@app.command("list")
def list_command(
    limit: int = typer.Option(20, "--limit", min=1, help="How many entries, newest first."),
    person: str | None = typer.Option(None, "--person", help="Only entries about this person key."),
    user: str | None = typer.Option(None, "--user", help="Only entries by this user (subject)."),
    output: AuditFormat = FormatOption,
) -> None:
    """Recent entries, newest first: who, as what, did what to whose record, and the outcome."""
    from joinedup.access.audit import entries

    engine = make_engine(Settings())
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            found = entries(session, limit=limit, person_key=person, user_subject=user)
    finally:
        engine.dispose()
    if output is AuditFormat.json:
        print_json([e.to_dict() for e in found])
        return
    if not found:
        typer.echo("The audit trail is empty.")
        return
    print_table(
        "Audit trail (newest first)",
        ["seq", "at", "user", "role", "org", "action", "person", "outcome", "break-glass", "why"],
        [
            [
                e.seq,
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.user_subject,
                e.role,
                e.organisation,
                e.action,
                e.person_key or "",
                e.outcome,
                e.break_glass,
                e.reason,
            ]
            for e in found
        ],
    )
