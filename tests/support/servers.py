"""Real HTTP servers on loopback for tests: free ports, and an app served by uvicorn."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

# Ports handed out in this test session. A port is free again once its probe
# socket closes, so without this two fixtures could be given the same port
# before either binds it (a stack's gateway and an SMTP sink, say).
_handed_out: set[int] = set()


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on right now, never handed out before in this session."""
    sockets = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)  # held open, so the next bind gets another port
            port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                ports.append(port)
        return ports
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int) -> bool:
    """Nothing listens on `port` (closed connections lingering in TIME_WAIT do not count)."""
    with socket.socket() as sock:
        # What `make run` needs next time: uvicorn binds with SO_REUSEADDR too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def unused_url() -> str:
    """A URL where nothing listens: connections are refused."""
    (port,) = free_ports(1)
    return f"http://127.0.0.1:{port}"


@asynccontextmanager
async def serving_over_http(
    app: ASGIApp, *, lifespan: Literal["auto", "on", "off"] = "auto", port: int | None = None
) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on loopback (a free port unless given), in this event loop."""
    if port is None:
        (port,) = free_ports(1)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan=lifespan)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
