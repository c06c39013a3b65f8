"""Optimistic concurrency: `ETag` on read, `If-Match` on change, 412 on a stale version.

Every mutable resource has a `version` that each change bumps. A client that
sends back the `ETag` it read changes the resource only if nobody else has
in between; without `If-Match` the change applies to whatever is current.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from deskside_kit.problems import PreconditionFailed


class StaleVersion(PreconditionFailed):
    slug = "stale-version"
    title = "The resource has changed"

    def __init__(self, current_version: int) -> None:
        super().__init__(
            f"If-Match names another version; this is now at version {current_version}. "
            "Read it again and retry.",
            current_version=current_version,
        )


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(header: str | None) -> int | None:
    """The version an `If-Match` header names; None when there is none (or `*`)."""
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    try:
        return int(value)
    except ValueError:
        return -1  # matches no version: a malformed tag is stale by definition


def require_version(if_match: str | None, current: int) -> None:
    """Raise StaleVersion unless `If-Match` is absent or names `current`."""
    expected = parse_if_match(if_match)
    if expected is not None and expected != current:
        raise StaleVersion(current)


IfMatch = Annotated[
    str | None,
    Header(
        description='The `ETag` you read (`"3"`): the change applies only to that version, '
        "else 412.",
    ),
]
