"""How commands print results: Rich for people, ``--format json`` for scripts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
errors = Console(stderr=True)


class OutputFormat(StrEnum):
    """``text`` for people (tables), ``json`` for scripts."""

    text = "text"
    json = "json"


FormatOption = typer.Option(
    OutputFormat.text, "--format", help="text for people, json for scripts", case_sensitive=False
)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on standard output (nothing else goes there)."""
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Print a titled table for people."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column[:1].isdigit() else "left")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error and return the exit to raise (code 1)."""
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Rich progress bars on standard error (so JSON output stays clean), one per stage."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
    ) as progress:

        def stage(description: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(description, total=total)
            return lambda done: progress.advance(task, done)

        yield stage
