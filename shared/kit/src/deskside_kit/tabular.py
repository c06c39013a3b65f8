"""Reports as CSV too: `?format=csv` gives a flat table a spreadsheet opens as it is.

JSON stays the default. A report names its `CsvTable` once: the columns, what a
row is, and how rows come out of the report's contract; the table both renders
the response and documents it as the 200 answer's `text/csv` alternative.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Query, Response

CSV_MEDIA_TYPE = "text/csv"

ReportFormat = Annotated[
    Literal["json", "csv"],
    Query(
        alias="format",
        description="`json` (the default), or `csv` for a flat table a spreadsheet opens: "
        "the 200 answer's `text/csv` form says its columns.",
    ),
]

Cell = str | int | float | bool | datetime | Enum | None
ReportT = TypeVar("ReportT")

# A cell a spreadsheet would take for a formula (CSV injection, OWASP): written as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime):
        # As the JSON writes it (deskside_contracts.common.UtcDateTime).
        return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    if isinstance(value, int | float | str):
        return value
    return str(value)


def render_csv(columns: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """A header line, then one line per row; CRLF line ends as RFC 4180 says."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return out.getvalue()


@dataclass(frozen=True)
class CsvTable(Generic[ReportT]):
    """How one report reads as a table."""

    filename: str
    columns: tuple[str, ...]
    row: str  # what one row is, for the document
    rows: Callable[[ReportT], Iterable[Sequence[Cell]]]
    example: tuple[tuple[Cell, ...], ...] = ()

    def response(self, report: ReportT) -> Response:
        return Response(
            render_csv(self.columns, self.rows(report)),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{self.filename}"'},
        )

    def openapi(self) -> dict[int | str, dict[str, Any]]:
        """`responses=` for the route: the report as JSON (the default), or as this CSV."""
        columns = ", ".join(f"`{column}`" for column in self.columns)
        return {
            200: {
                "description": "The report: JSON by default; with `?format=csv`, a CSV table "
                f"with a header line and {self.row}. Columns: {columns}. Empty cells are "
                "absent values.",
                "content": {
                    CSV_MEDIA_TYPE: {
                        "schema": {"type": "string"},
                        "example": render_csv(self.columns, self.example),
                    }
                },
            }
        }
