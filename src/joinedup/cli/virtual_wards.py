"""``joinedup virtual-wards ...``: scores for people cared for at home, starting with NEWS2."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from joinedup.cli.output import FormatOption, OutputFormat, fail, print_json, print_table
from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory
from joinedup.virtual_wards.news2 import LIMITATION, ImplausibleReading, News2, Vitals, news2
from joinedup.virtual_wards.sweep import sweep_once

virtual_wards_app = typer.Typer(
    help="Virtual wards: acute care at home with remote monitoring and early-warning scores."
)


@virtual_wards_app.command("news2")
def news2_command(
    respiratory_rate: int | None = typer.Option(
        None, "--resp-rate", help="Respiration rate, breaths per minute."
    ),
    spo2: int | None = typer.Option(None, "--spo2", help="Oxygen saturation, %."),
    scale: int = typer.Option(
        1,
        "--scale",
        help="SpO2 scale: 2 only for hypercapnic respiratory failure with a prescribed "
        "target of 88-92%.",
    ),
    on_oxygen: bool | None = typer.Option(
        None, "--oxygen/--air", help="Breathing supplemental oxygen, or air."
    ),
    systolic: int | None = typer.Option(None, "--systolic", help="Systolic blood pressure, mmHg."),
    pulse: int | None = typer.Option(None, "--pulse", help="Pulse, beats per minute."),
    consciousness: str | None = typer.Option(
        None,
        "--consciousness",
        help="ACVPU: A alert, C new confusion, V voice, P pain, U unresponsive.",
    ),
    temperature: float | None = typer.Option(None, "--temperature", help="Temperature, °C."),
    output: OutputFormat = FormatOption,
) -> None:
    """Score NEWS2 (RCP 2017) for adults: parameter scores, total, band and clinical response.

    Every reading is optional, so a partial set shows what is missing instead of a total.
    """
    vitals = Vitals(
        respiratory_rate=respiratory_rate,
        spo2=spo2,
        scale=scale,
        on_oxygen=on_oxygen,
        systolic=systolic,
        pulse=pulse,
        consciousness=None if consciousness is None else consciousness.upper(),
        temperature=temperature,
    )
    try:
        result = news2(vitals)
    except ImplausibleReading as error:
        raise fail(f"not scored: {error}") from None
    if output is OutputFormat.json:
        print_json(result.to_dict())
        return
    _print_text(result)


def _print_text(result: News2) -> None:
    """The parameter scores as a table, then the total and what to do about it."""
    print_table(
        f"NEWS2 (SpO2 scale {result.spo2_scale})",
        ["parameter", "value", "score"],
        [[p.parameter.replace("_", " "), p.value, p.score] for p in result.parameters],
    )
    if result.total is None:
        typer.echo(f"total: not scored, missing: {', '.join(result.missing)}")
    else:
        typer.echo(f"total: {result.total} ({result.band})")
        typer.echo(f"monitoring: {result.frequency}")
        typer.echo(f"response: {result.response}")
    if result.single_three:
        typer.echo("a single parameter scores 3")
    typer.echo(f"note: {LIMITATION}")


@virtual_wards_app.command("sweep")
def sweep_command(output: OutputFormat = FormatOption) -> None:
    """Re-escalate every escalation not acknowledged by its due time (for a scheduler, when
    the web app's own background round is not running)."""
    settings = Settings()
    engine = make_engine(settings)
    try:
        migrate(engine)
        count = sweep_once(session_factory(engine), settings.virtual_wards_file, datetime.now(UTC))
    finally:
        engine.dispose()
    if output is OutputFormat.json:
        print_json({"re_escalated": count})
    else:
        typer.echo(f"{count} escalations re-escalated")
