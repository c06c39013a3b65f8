"""A TCP proxy on loopback that misbehaves on demand, for network-fault tests.

Toxiproxy's faults, written here because its server cannot be installed on
this machine: put a `FaultProxy` between two parts and set its `mode`:

- `pass`: bytes flow both ways as they are;
- `latency`: each chunk waits `latency` seconds before it is passed on;
- `blackhole`: connections are accepted and whatever arrives is swallowed; no
  byte ever comes back (a dead host behind a live load balancer);
- `reset`: connections are accepted and at once reset (RST, not FIN);
- `down`: nothing listens; connections are refused (an outage).

Changing the mode affects new connections and, except for `pass`, cuts the
ones already open, as a real fault would.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

Mode = Literal["pass", "latency", "blackhole", "reset", "down"]


class FaultProxy:
    def __init__(self, listen_port: int, upstream_port: int) -> None:
        self.listen_port = listen_port
        self.upstream_port = upstream_port
        self.mode: Mode = "pass"
        self.latency = 0.0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.listen_port, reuse_address=True
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._cut_all()

    async def set(self, mode: Mode, *, latency: float = 0.0) -> None:
        """Switch to `mode`; open connections are cut unless the new mode is `pass`."""
        self.mode, self.latency = mode, latency
        if mode != "pass":
            await self._cut_all()
        if mode == "down" and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        elif mode != "down" and self._server is None:
            await self.start()

    async def _cut_all(self) -> None:
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        cut = True  # a reset, a cut or an error ends with RST; a finished exchange with FIN
        try:
            cut = not await self._handle(reader, writer)
        except (asyncio.CancelledError, ConnectionError, OSError):
            pass
        finally:
            self._connections.discard(task)
            if cut:
                _reset(writer)
            else:
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one connection as the mode says; True if it ended normally."""
        if self.mode == "reset":
            return False
        if self.mode == "blackhole":
            while await reader.read(65536):
                pass
            return False
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.upstream_port
        )
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        finally:
            upstream_writer.close()
        return True

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while chunk := await source.read(65536):
            if self.mode == "latency" and self.latency:
                await asyncio.sleep(self.latency)
            elif self.mode == "blackhole":
                continue  # swallowed from now on
            sink.write(chunk)
            await sink.drain()
        with contextlib.suppress(OSError):
            sink.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST: SO_LINGER on with a zero timeout."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


@asynccontextmanager
async def fault_proxy(listen_port: int, upstream_port: int) -> AsyncIterator[FaultProxy]:
    proxy = FaultProxy(listen_port, upstream_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()
