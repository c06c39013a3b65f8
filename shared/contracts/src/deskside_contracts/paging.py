"""Cursor pages: the shape of every list response."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ItemT = TypeVar("ItemT")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class Page(BaseModel, Generic[ItemT]):
    """One page of a list. Pass `next_cursor` back as `?cursor=` for the next one."""

    model_config = ConfigDict(frozen=True)

    items: list[ItemT]
    next_cursor: str | None = Field(default=None, description="Opaque; `null` on the last page.")
