"""Request body limits: 413 before one byte too many is held in memory.

Every part, the gateway included, reads a request's body through
`BodyLimitMiddleware` before anything else sees it. A declared
`Content-Length` over the limit is refused at once, unread; a chunked body, or
one whose declared length was a lie, is counted as it arrives and refused the
moment it passes the limit. What fits is handed on unchanged.

Two limits: an ordinary one (1 MiB) for every JSON request, and a larger one
for the paths that carry mail, alerts and evidence logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskside_kit.problems import problem_response

MIB = 1024 * 1024
DEFAULT_MAX_BODY_BYTES = 1 * MIB
DEFAULT_MAX_LARGE_BODY_BYTES = 10 * MIB

# Inbound email and alerts (`/v1/inbound/email`, `/v1/inbound/alerts`; device
# check-ins are small and keep the ordinary limit), and escalations, whose
# evidence may be a log or a screenshot.
_LARGE_BODY_PATHS = re.compile(
    r"^/v1/inbound/(email|alerts)(/|$)|^/v1/tickets/[^/]+/escalations(/|$)"
)


# Before answering 413, the rest of a body up to this many times the limit, and
# for at most this long, is read and thrown away: a client still sending when
# the connection closes gets a reset instead of the answer. Anything bigger is
# answered at once, and a client that promised more than it sends is not
# waited on for long.
DRAIN_FACTOR = 4
DRAIN_SECONDS = 2.0


def carries_large_bodies(path: str) -> bool:
    return _LARGE_BODY_PATHS.match(path) is not None


def limits_by_path(ordinary: int, large: int) -> Callable[[str], int]:
    """The limit of a path: `large` where mail, alerts or evidence arrive."""
    return lambda path: large if carries_large_bodies(path) else ordinary


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= limit * DRAIN_FACTOR:
                await _discard_the_rest(receive, limit * DRAIN_FACTOR)
            await _refuse(limit, scope, receive, send)
            return
        received: list[Message] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break  # the client went away; the app will see that as usual
            size += len(message.get("body", b""))
            if size > limit:
                if message.get("more_body", False):
                    await _discard_the_rest(receive, limit * DRAIN_FACTOR - size)
                await _refuse(limit, scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # The server has checked it is a number; anything else is left to it.
            return int(text) if text.isdigit() else None
    return None


async def _discard_the_rest(receive: Receive, budget: int) -> None:
    """Read what the client is still sending, keeping none of it, up to `budget` bytes."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while budget > 0:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                budget -= len(message.get("body", b""))


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(
        413,
        detail=f"The request body is larger than this endpoint accepts ({limit} bytes).",
        # The rest of the body is never read, so the connection cannot be reused.
        headers={"Connection": "close"},
        limit_bytes=limit,
    )
    await response(scope, receive, send)
