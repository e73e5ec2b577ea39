"""``joinedup identity ...``: the person index's linkage run, review queue and quality."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from joinedup.cli.output import FormatOption, OutputFormat, errors, fail, print_json, print_table
from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory

identity_app = typer.Typer(help="The person index: linkage, review, unmerge, quality.")


def _now() -> datetime:
    return datetime.now(UTC)


@identity_app.command("link")
def link_command(
    retrain: bool = typer.Option(False, "--retrain", help="Train a new model on today's records."),
    auto: float = typer.Option(
        0.99, "--auto", help="Link automatically at or above this probability."
    ),
    review: float = typer.Option(0.8, "--review", help="Send to review from this probability."),
    output: OutputFormat = FormatOption,
) -> None:
    """Link every source record into persons (Splink on DuckDB); queue undecided pairs for review."""
    from joinedup.identity.batch import run_linkage

    settings = Settings()
    engine = make_engine(settings)
    try:
        migrate(engine)
        errors.print("Linking the person index (training the model on first run)...")
        summary = run_linkage(
            session_factory(engine),
            model_path=settings.identity_model_path,
            at=_now(),
            retrain=retrain,
            auto_link_threshold=auto,
            review_threshold=review,
        )
    finally:
        engine.dispose()
    if output is OutputFormat.json:
        print_json(summary.to_dict())
    else:
        print_table(
            "Linkage run",
            ["what", "value"],
            [[k.replace("_", " "), v] for k, v in summary.to_dict().items()],
        )


@identity_app.command("review")
def review_command(
    decide: int | None = typer.Option(None, "--decide", help="Review item id to decide."),
    decision: str | None = typer.Option(None, "--decision", help="link or not_link"),
    by: str = typer.Option("reviewer", "--by", help="Who decides (recorded)."),
    limit: int = typer.Option(20, "--limit", help="How many open pairs to show."),
    output: OutputFormat = FormatOption,
) -> None:
    """Show open pairs with Splink's match-weight explanation, or decide one (--decide ID --decision link|not_link)."""
    from joinedup.identity.review import ReviewError, review_items
    from joinedup.identity.review import decide as apply_decision

    engine = make_engine(Settings())
    try:
        migrate(engine)
        sessions = session_factory(engine)
        if decide is not None:
            if decision is None:
                raise fail("give --decision link or --decision not_link")
            try:
                with sessions() as session, session.begin():
                    apply_decision(session, decide, decision, by=by, at=_now())
            except ReviewError as error:
                raise fail(str(error)) from None
            if output is OutputFormat.json:
                print_json({"id": decide, "decision": decision, "by": by})
            else:
                typer.echo(f"review item {decide}: {decision} (by {by})")
            return
        with sessions() as session:
            items = review_items(session, limit=limit)
    finally:
        engine.dispose()
    if output is OutputFormat.json:
        print_json([i.to_dict() for i in items])
        return
    if not items:
        typer.echo("The review queue is empty.")
    for item in items:
        rows = [
            [field, getattr(item.left, field) or "", getattr(item.right, field) or ""]
            for field in (
                "partner",
                "feed",
                "local_id",
                "nhs_number",
                "given",
                "family",
                "birth_date",
                "sex",
                "postcode",
                "address_line",
                "person_key",
            )
        ]
        print_table(
            f"Review {item.id}: {item.reason.replace('_', ' ')}, "
            f"probability {item.match_probability:.3f}, weight {item.match_weight:+.1f}",
            ["field", "left", "right"],
            rows,
        )
        print_table(
            "Why (match weight per comparison; + for, - against)",
            ["comparison", "weight"],
            [[name, f"{weight:+.2f}"] for name, weight in item.explanation.items()],
        )


@identity_app.command("unmerge")
def unmerge_command(
    source_record: int = typer.Argument(..., help="Source record id to take out of its person."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded)."),
    output: OutputFormat = FormatOption,
) -> None:
    """Take a source record out of its person (the merge stays in the history)."""
    from joinedup.identity.review import link_history, unmerge

    engine = make_engine(Settings())
    try:
        with session_factory(engine)() as session, session.begin():
            try:
                key = unmerge(session, source_record, reason=reason, at=_now())
            except Exception:
                raise fail(f"no source record {source_record}") from None
            history = link_history(session, source_record)
    finally:
        engine.dispose()
    if output is OutputFormat.json:
        print_json({"source_record": source_record, "person_key": key, "history": history})
    else:
        print_table(
            f"Source record {source_record}: links",
            ["person", "method", "reason", "from", "to"],
            [
                [h["person_key"], h["method"], h["reason"], h["valid_from"], h["valid_to"] or ""]
                for h in history
            ],
        )


@identity_app.command("evaluate")
def evaluate_command(
    truth: Path = typer.Option(..., "--truth", exists=True, help="Truth folder or records.csv."),
    output: OutputFormat = FormatOption,
) -> None:
    """Pairwise precision, recall and F1 of the person index against ground truth."""
    from joinedup.identity.review import evaluate_against_truth

    truth_file = truth / "records.csv" if truth.is_dir() else truth
    engine = make_engine(Settings())
    try:
        with session_factory(engine)() as session:
            result = evaluate_against_truth(session, truth_file)
    finally:
        engine.dispose()
    data = result.to_dict()
    if output is OutputFormat.json:
        print_json(data)
    else:
        print_table(
            "Linkage quality against the truth",
            ["measure", "value"],
            [
                [k.replace("_", " "), f"{v:.4f}" if isinstance(v, float) else v]
                for k, v in data.items()
            ],
        )
