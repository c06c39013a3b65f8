"""How the `deskside` command writes: tables for people, JSON and CSV for programs.

Machine output (a token, JSON, CSV) goes to stdout untouched by rich, which
would wrap long lines; tables, progress and messages go through rich.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


@dataclass
class Rows:
    """A titled table of plain values: rendered by rich, or written as CSV."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    # Columns aligned right: numbers.
    numeric: frozenset[str] = frozenset()
    # CSV header names (snake_case), one per column; the column titles when not given.
    csv_columns: Sequence[str] | None = None


def console() -> Console:
    # Made per use: CliRunner swaps sys.stdout, and rich would keep the old one.
    return Console(highlight=False)


def error_console() -> Console:
    return Console(stderr=True, highlight=False)


def say(message: str) -> None:
    """A sentence for people, printed as it is (no markup, no wrapping of long URLs)."""
    typer.echo(message)


def print_tables(tables: Sequence[Rows], heading: str | None = None) -> None:
    out = console()
    if heading:
        out.print(heading)
    for rows in tables:
        out.print(render(rows))


def render(rows: Rows) -> Table:
    table = Table(title=rows.title, title_justify="left", title_style="bold")
    for column in rows.columns:
        table.add_column(column, justify="right" if column in rows.numeric else "left")
    for row in rows.rows:
        table.add_row(*(format_cell(value) for value in row))
    if not rows.rows:
        table.add_row(*(["-"] * len(rows.columns)))
    return table


def format_cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def write_csv(rows: Rows) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows.csv_columns or rows.columns)
    writer.writerows([_csv_cell(value) for value in row] for row in rows.rows)
    typer.echo(out.getvalue(), nl=False)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
