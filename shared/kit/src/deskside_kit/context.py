"""Per-request context that logs and outgoing calls pick up on their own."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"

# Accept a caller's id only if it is short and plain, so it cannot forge log
# lines or smuggle header-breaking characters into the next hop.
_WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

request_id_var: ContextVar[str | None] = ContextVar("deskside_request_id", default=None)


def new_request_id() -> str:
    return secrets.token_hex(16)


def accept_request_id(candidate: str | None) -> str:
    """The caller's request id if it is well formed, else a fresh one."""
    if candidate and _WELL_FORMED_REQUEST_ID.fullmatch(candidate):
        return candidate
    return new_request_id()


def current_request_id() -> str | None:
    return request_id_var.get()
