"""Opaque, time-ordered identifiers such as `tkt_01JD3…`."""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _base32(number: int, length: int) -> str:
    digits = []
    for _ in range(length):
        number, remainder = divmod(number, 32)
        digits.append(_CROCKFORD[remainder])
    return "".join(reversed(digits))


def new_id(prefix: str) -> str:
    """A ULID-shaped id with a type prefix.

    Ids sort by creation time (48-bit milliseconds first, then 80 random
    bits), so new rows land at the end of primary-key indexes and lists can
    page by id.
    """
    milliseconds = time.time_ns() // 1_000_000
    return f"{prefix}_{_base32(milliseconds, 10)}{_base32(secrets.randbits(80), 16)}"
