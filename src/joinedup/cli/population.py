"""``joinedup lake`` (the pseudonymised analytical lake) and ``joinedup population``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer

from joinedup.cli.output import (
    FormatOption,
    OutputFormat,
    errors,
    fail,
    print_json,
    print_table,
    progress_bars,
)
from joinedup.directory.store import read_directory
from joinedup.population import risk
from joinedup.population.cohorts import SHIPPED_COHORTS, CohortError, load_cohort, run_cohort
from joinedup.population.indicators import INDICATORS
from joinedup.population.inequalities import DIMENSIONS, breakdown, overall_rate
from joinedup.population.lake import lake_as_of, refresh_lake
from joinedup.population.measures import Lake, duckdb_lake
from joinedup.population.needs import PROJECTION_YEARS, assess_needs
from joinedup.population.run import STEPS, run_population
from joinedup.settings import Settings
from joinedup.storage import make_engine, session_factory
from joinedup.web.pages import group_name

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


def _lake(settings: Settings) -> Lake:
    if not (settings.lake_dir / "person.parquet").is_file():
        raise fail(f"no lake at {settings.lake_dir}: run `joinedup lake refresh` first")
    return duckdb_lake(settings.lake_dir)


def _as_of(settings: Settings, as_of: str | None) -> date:
    try:
        return date.fromisoformat(as_of) if as_of else lake_as_of(settings.lake_dir) or date.today()
    except ValueError:
        raise fail(f"--as-of: expected a date as YYYY-MM-DD, got {as_of!r}") from None


AsOfOption = typer.Option(
    None, "--as-of", help="Date to look back from (YYYY-MM-DD; default: the lake's as-of date)."
)


population_app = typer.Typer(
    help="Population health: measures, cohorts, indicators and the needs assessment."
)


@population_app.command("cohort")
def cohort(
    files: list[Path] = typer.Argument(
        None, help="Cohort definition files (YAML); the shipped cohorts if none are given."
    ),
    as_of: str | None = AsOfOption,
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
    lake = _lake(settings)
    paths = files or sorted(SHIPPED_COHORTS.glob("*.yaml"))
    day = _as_of(settings, as_of)
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
                g.to_dict() for g in breakdown(run.entered, run.people, lake.person, by)
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
            _print_rates(
                f"by {by}: share of those who entered (95% CI); under 5 suppressed",
                by,
                result["groups"],
            )


def _print_rates(title: str, by: str, groups: list[dict[str, Any]]) -> None:
    def interval(rate: float | None, low: float | None, high: float | None) -> str:
        return "-" if rate is None else f"{rate:.1%} ({low:.1%} to {high:.1%})"

    print_table(
        title,
        [by, "numerator", "denominator", "rate", "age-standardised"],
        [
            [
                group_name(g["group"]),
                "<5" if g["suppressed"] else f"{g['numerator']:,}",
                f"{g['denominator']:,}",
                "suppressed" if g["suppressed"] else interval(g["rate"], g["ci_low"], g["ci_high"]),
                interval(g["standardised_rate"], g["standardised_low"], g["standardised_high"]),
            ]
            for g in groups
        ],
    )


@population_app.command("indicators")
def indicators(
    by: str | None = typer.Option(
        None, "--by", help=f"Break each indicator down by one of: {', '.join(DIMENSIONS)}."
    ),
    as_of: str | None = AsOfOption,
    output: OutputFormat = FormatOption,
) -> None:
    """The population indicators over the registered population, or broken down by a
    dimension (rates with 95% CIs, age-standardised where groups differ in age)."""
    if by is not None and by not in DIMENSIONS:
        raise fail(f"--by: expected one of {', '.join(DIMENSIONS)}")
    settings = Settings()
    lake = _lake(settings)
    day = _as_of(settings, as_of)
    results = []
    for indicator in INDICATORS:
        denominator, numerator = indicator.people(lake, day)
        overall = overall_rate(denominator, numerator)
        result: dict[str, Any] = {
            "indicator": indicator.key,
            "name": indicator.name,
            "denominator": indicator.denominator,
            "source": indicator.source,
            "overall": overall.to_dict() if overall else None,
        }
        if by is not None:
            result["by"] = by
            result["groups"] = [
                g.to_dict() for g in breakdown(denominator, numerator, lake.person, by)
            ]
        results.append(result)
    if output is OutputFormat.json:
        print_json({"as_of": day.isoformat(), "indicators": results})
        return
    _print_rates(
        f"Indicators on {day.isoformat()} (95% CI); under 5 suppressed",
        "indicator",
        [{**(r["overall"] or {}), "group": r["name"]} for r in results if r["overall"]],
    )
    for r in results:
        if by is not None:
            _print_rates(f"{r['name']} by {by}", by, r["groups"])


@population_app.command("run")
def run(
    as_of: str | None = AsOfOption,
    output: OutputFormat = FormatOption,
) -> None:
    """The whole population run: train the risk model, write every person's measures,
    run the shipped cohorts and assess needs (outputs under var/population/)."""
    settings = Settings()
    lake = _lake(settings)
    day = _as_of(settings, as_of)
    with progress_bars() as stage:
        advance = stage("Population run (steps)", len(STEPS))
        done = run_population(
            lake, day, out_dir=settings.population_dir, progress=lambda _step: advance(1)
        )
    if output is OutputFormat.json:
        print_json(done.to_dict())
        return
    print_table(
        f"Population run on {day.isoformat()}: {done.people:,} people",
        ["step", "seconds"],
        [[k, f"{v:.1f}"] for k, v in done.seconds.items()],
    )
    if done.risk_model is None:
        errors.print("no risk model: the lake's history is too short or too small to train one")
    else:
        errors.print(risk.report(done.risk_model))
    print_table(
        "Cohorts",
        ["cohort", "people"],
        [[c["cohort"], f"{c['size']:,}"] for c in done.cohorts],
    )
    errors.print(f"outputs in {done.out_dir}")


@population_app.command("report")
def report(
    out: Path | None = typer.Option(
        None, "--out", help="Write the report here: .pdf for a PDF, .html for a page."
    ),
    as_of: str | None = AsOfOption,
    output: OutputFormat = FormatOption,
) -> None:
    """The needs assessment for the strategic commissioners: as a PDF or HTML file
    (--out), or printed (--format json for the figures)."""
    from joinedup.web.pdf import html_to_pdf
    from joinedup.web.population_pages import group_labels, render_report

    if out is not None and out.suffix.lower() not in (".pdf", ".html"):
        raise fail("--out: name a .pdf or a .html file")
    settings = Settings()
    lake = _lake(settings)
    needs = assess_needs(lake, _as_of(settings, as_of))
    if out is not None:
        engine = make_engine(settings)
        with session_factory(engine)() as session:
            directory = read_directory(session)
        engine.dispose()
        html = render_report(
            needs,
            ics_name=directory.name if directory else None,
            pdf=True,
            labels=group_labels(directory),
        )
        out.write_bytes(html_to_pdf(html) if out.suffix.lower() == ".pdf" else html.encode())
        errors.print(f"wrote {out}")
    if output is OutputFormat.json:
        print_json(needs.to_dict())
        return
    if out is None:
        print_table(
            f"Recorded and expected prevalence on {needs.as_of.isoformat()}",
            ["register", "recorded", "prevalence", "expected", "recorded ÷ expected (95% CI)"],
            [
                [
                    p.name,
                    f"{p.recorded:,}",
                    f"{p.rate:.1%}",
                    f"{p.expected:,.0f}",
                    "-"
                    if p.ratio is None
                    else f"{p.ratio:.2f} ({p.ratio_low:.2f} to {p.ratio_high:.2f})",
                ]
                for p in needs.prevalence
            ],
        )
        print_table(
            "Demand projected from population ageing",
            ["demand", "now", *(f"in {y} years" for y in PROJECTION_YEARS)],
            [
                [p.measure, f"{p.now:,.0f}", *(f"{p.later[y]:,.0f}" for y in PROJECTION_YEARS)]
                for p in needs.projections
            ],
        )
