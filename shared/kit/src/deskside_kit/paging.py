"""Keyset (cursor) paging: page 1,000 costs what page 1 costs.

A cursor is the sort key of the last row on the page, in opaque base64url
JSON. The next page asks for rows strictly after that key, so it uses the
index instead of counting past skipped rows, and no row is shown twice or
skipped when rows are added between pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, TypeDecorator, literal, tuple_
from sqlalchemy.orm import Mapped
from sqlmodel.sql.expression import SelectOfScalar

from deskside_contracts.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page
from deskside_kit.problems import Unprocessable

RowT = TypeVar("RowT")
ItemT = TypeVar("ItemT")


class InvalidCursor(Unprocessable):
    slug = "invalid-cursor"
    title = "Invalid cursor"


def encode_cursor(key: Sequence[Any]) -> str:
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidCursor(
            "query.cursor: not a cursor this API issued; pass `next_cursor` back unchanged."
        ) from None
    if not isinstance(key, list) or len(key) != width:
        raise InvalidCursor("query.cursor: does not belong to this list.")
    return key


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None


def _page_request(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")
    ] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="`next_cursor` from the previous page."),
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


PageParams = Annotated[PageRequest, Depends(_page_request)]


def _typed(column: ColumnElement[Any], value: Any) -> ColumnElement[Any]:
    """The cursor value bound with its column's type, so each database compares like with like.

    A value of another type than the column's is refused as a forged cursor:
    PostgreSQL would reject the comparison with an error, not an empty page.
    """
    column_type = column.type
    if isinstance(column_type, TypeDecorator):
        # A decorator's own python_type is often just `object`; its storage type knows.
        column_type = column_type.impl_instance
    try:
        expected: type | None = column_type.python_type
    except NotImplementedError:
        expected = None
    if expected is datetime and isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidCursor("query.cursor: does not belong to this list.") from None
    wrong_type = expected is not None and not isinstance(value, expected)
    if wrong_type or isinstance(value, bool) or not isinstance(value, str | int | float | datetime):
        raise InvalidCursor("query.cursor: does not belong to this list.")
    return literal(value, type_=column.type)


def after_cursor(
    statement: SelectOfScalar[RowT],
    columns: Sequence[ColumnElement[Any] | Mapped[Any]],
    page: PageRequest,
    *,
    descending: bool = False,
) -> SelectOfScalar[RowT]:
    """Order `statement` by `columns` and keep one page after the cursor (plus one row).

    The extra row tells whether there is a next page without a COUNT.
    """
    # Mapped model attributes are column expressions at run time; typing just says so.
    expressions = [cast("ColumnElement[Any]", column) for column in columns]
    if page.cursor is not None:
        key = decode_cursor(page.cursor, len(expressions))
        position = tuple_(*expressions)
        values = tuple_(
            *(_typed(column, value) for column, value in zip(expressions, key, strict=True))
        )
        statement = statement.where(position < values if descending else position > values)
    ordering = [column.desc() if descending else column.asc() for column in expressions]
    return statement.order_by(*ordering).limit(page.limit + 1)


def build_page(
    rows: Sequence[RowT],
    page: PageRequest,
    *,
    sort_key: Callable[[RowT], Sequence[Any]],
    to_item: Callable[[RowT], ItemT],
) -> Page[ItemT]:
    """Turn the rows of `after_cursor` into a page with its `next_cursor`."""
    visible = rows[: page.limit]
    next_cursor = encode_cursor(sort_key(visible[-1])) if len(rows) > page.limit else None
    # Not `Page[ItemT](...)`: parametrised by a TypeVar, pydantic built a new model
    # class on every call (about a twentieth of a list request's CPU).
    return Page(items=[to_item(row) for row in visible], next_cursor=next_cursor)
