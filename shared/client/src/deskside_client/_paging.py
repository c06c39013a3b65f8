"""Following `next_cursor` lazily: one page is fetched only when the last is used up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from deskside_contracts.paging import Page

ItemT = TypeVar("ItemT")


async def follow(fetch: Callable[[str | None], Awaitable[Page[ItemT]]]) -> AsyncIterator[ItemT]:
    """Every item of every page, `fetch(cursor)` giving each page in turn."""
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        for item in page.items:
            yield item
        if not page.next_cursor:
            return
        cursor = page.next_cursor
