"""Small helpers every resource group uses."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

RequestT = TypeVar("RequestT", bound=BaseModel)

# An `If-Match` value: the version you read (`3`), or its ETag as sent (`"3"`).
Version = int | str


def build(model: type[RequestT], data: RequestT | None, fields: dict[str, Any]) -> RequestT:
    """The request body: the contracts model given, or one made from keyword arguments."""
    if data is not None:
        if fields:
            raise TypeError(f"give a {model.__name__} or keyword arguments, not both")
        return data
    # Validated here, so a misspelled field fails before anything is sent.
    return model.model_validate(fields)


def if_match(version: Version | None) -> dict[str, str]:
    if version is None:
        return {}
    if isinstance(version, int):
        return {"If-Match": f'"{version}"'}
    return {"If-Match": version}


def segment(value: str) -> str:
    """One path segment, escaped: ids and references never change the path's shape."""
    return quote(value, safe="")
