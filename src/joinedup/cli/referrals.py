"""``joinedup referrals ...``: the single point of access's notifications, capacity and routing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import typer
from sqlalchemy.orm import Session, sessionmaker

from joinedup.cli.output import FormatOption, OutputFormat, errors, fail, print_json, print_table
from joinedup.directory.model import Directory
from joinedup.directory.profiles import DISPOSITIONS, NEEDS, REFERRERS
from joinedup.referrals.router import CAPACITY_STATUSES, PersonContext, Request, Router
from joinedup.referrals.rules import Rules, load_rules
from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory

referrals_app = typer.Typer(
    help="Referrals: notifications to receiving teams, services' capacity, routing."
)


@contextmanager
def _sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings)
    try:
        migrate(engine)
        yield session_factory(engine)
    finally:
        engine.dispose()


def _directory(sessions: sessionmaker[Session]) -> Directory | None:
    from joinedup.directory.store import read_directory

    with sessions() as session:
        return read_directory(session)


def _rules(settings: Settings) -> Rules:
    try:
        return load_rules(settings.routing_rules)
    except (OSError, ValueError) as error:
        raise fail(f"the routing rules {settings.routing_rules}: {error}") from None


@referrals_app.command("deliver")
def deliver(
    max_attempts: int = typer.Option(
        6, "--max-attempts", min=1, help="Attempts before a notification is dead."
    ),
    output: OutputFormat = FormatOption,
) -> None:
    """Send the notifications that are due now (one round), then print the counts."""
    from joinedup.referrals.notify import deliver_due
    from joinedup.referrals.store import Centre

    settings = Settings()
    rules = _rules(settings)
    with _sessions(settings) as sessions:
        directory = _directory(sessions)
        names = Centre(directory, rules).service_name if directory is not None else None
        report = deliver_due(
            sessions,
            datetime.now(UTC),
            max_attempts=max_attempts,
            service_name=names,
            at_risk_after=rules.at_risk_after,
        )
    if output is OutputFormat.json:
        print_json(report.to_dict())
        return
    print_table(
        "Referral notifications",
        ["what", "count"],
        [
            ["delivered", report.delivered],
            ["to retry", report.retried],
            ["dead (given up)", report.dead],
        ],
    )


@referrals_app.command("dead-letters")
def dead_letters(output: OutputFormat = FormatOption) -> None:
    """List the notifications given up on, with what went wrong."""
    from joinedup.referrals.notify import dead_letters as list_dead

    with _sessions(Settings()) as sessions, sessions() as session:
        letters = list_dead(session)
    if output is OutputFormat.json:
        print_json([d.to_dict() for d in letters])
        return
    print_table(
        f"Dead letters: {len(letters)}",
        ["id", "referral", "event", "service", "endpoint", "attempts", "last error", "last try"],
        [
            [
                d.id,
                d.referral_id,
                d.event,
                d.service_id,
                d.endpoint,
                d.attempts,
                d.last_error or "",
                f"{d.last_attempt_at:%Y-%m-%d %H:%M}",
            ]
            for d in letters
        ],
    )
    if letters:
        errors.print("Put one back with `joinedup referrals retry ID`.")


@referrals_app.command("retry")
def retry(notification_id: int = typer.Argument(..., help="The notification's id.")) -> None:
    """Put a dead notification back to be sent in the next round (its attempts reset)."""
    from joinedup.referrals.notify import retry as retry_notification

    with _sessions(Settings()) as sessions:
        try:
            with sessions.begin() as session:
                retry_notification(session, notification_id, datetime.now(UTC))
        except KeyError:
            raise fail(f"no notification {notification_id}") from None
        except ValueError as error:
            raise fail(str(error)) from None
    errors.print(f"Notification {notification_id} will be sent in the next delivery round.")


@referrals_app.command("status")
def status(
    service_id: str = typer.Argument(..., help="The service's id in the directory."),
    capacity: str = typer.Argument(..., help="green, amber or red."),
    note: str = typer.Option("", "--note", help="Why, for coordinators."),
    by: str = typer.Option("joinedup-cli", "--by", help="Who reports it."),
) -> None:
    """Record a service's live capacity status (red: not taking referrals)."""
    from joinedup.referrals.model import ReferralError
    from joinedup.referrals.store import set_service_status

    if capacity not in CAPACITY_STATUSES:
        raise fail(f"the status must be one of {', '.join(CAPACITY_STATUSES)}")
    with _sessions(Settings()) as sessions:
        directory = _directory(sessions)
        if directory is not None and service_id not in {s.id for s in directory.services}:
            raise fail(f"no service {service_id!r} in the directory")
        try:
            with sessions.begin() as session:
                set_service_status(session, service_id, capacity, note, by, datetime.now(UTC))
        except ReferralError as error:
            raise fail(str(error)) from None
    errors.print(f"{service_id} is now {capacity}.")


@referrals_app.command("route")
def route(
    need: str = typer.Option(..., "--need", help="The need (see docs/directory.md)."),
    urgency: str = typer.Option(..., "--urgency", help="e.g. two_hour, same_day, routine."),
    source: str = typer.Option(..., "--source", help="The kind of referrer, e.g. gp."),
    age: int | None = typer.Option(None, "--age", min=0, max=130, help="The person's age."),
    area: str | None = typer.Option(None, "--area", help="The person's area (its code)."),
    sex: str | None = typer.Option(None, "--sex", help="female, male, other or unknown."),
    requested: str | None = typer.Option(
        None, "--requested", help="The service the referrer asked for."
    ),
    top: int = typer.Option(10, "--top", min=1, help="How many services to show."),
    output: OutputFormat = FormatOption,
) -> None:
    """Rank the directory's services for a referral, with the reasons for and against."""
    from joinedup.referrals.store import service_statuses

    for value, known, what in (
        (need, NEEDS, "need"),
        (urgency, DISPOSITIONS, "urgency"),
        (source, REFERRERS, "source"),
    ):
        if value not in known:
            raise fail(f"not a {what}: {value!r} (one of {', '.join(known)})")
    settings = Settings()
    rules = _rules(settings)
    with _sessions(settings) as sessions:
        directory = _directory(sessions)
        if directory is None:
            raise fail("no directory in the database: run `joinedup demo` or load one first")
        with sessions() as session:
            statuses = service_statuses(session)
    areas = {a.code for a in directory.areas}
    if area is not None and area not in areas:
        raise fail(f"not an area of {directory.name}: {area!r} (one of {', '.join(sorted(areas))})")
    if requested is not None and requested not in {s.id for s in directory.services}:
        raise fail(f"no service {requested!r} in the directory")
    request = Request(need, urgency, source, PersonContext(age, sex, area), requested)
    ranking = Router(directory, rules).rank(request, statuses, datetime.now(UTC))[:top]
    if output is OutputFormat.json:
        print_json([c.to_dict() for c in ranking])
        return
    print_table(
        f"Services for {NEEDS[need]}, {DISPOSITIONS[urgency].words}",
        ["#", "service", "can take it", "score", "for", "against"],
        [
            [
                rank,
                f"{c.service_name} ({c.service_id})",
                c.eligible,
                c.score,
                "; ".join(c.reasons_for),
                "; ".join(c.reasons_against),
            ]
            for rank, c in enumerate(ranking, start=1)
        ],
    )
