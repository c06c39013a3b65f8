"""A network backend for the webhook sender that records every connection it is asked for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore


class SpyNetwork(httpcore.AsyncNetworkBackend):
    """Records each (host, port) the sender dials.

    `passthrough`: make every connection for real. Otherwise make none (so no
    packet can leave), except those `routes` maps onto a loopback port.
    """

    def __init__(
        self, *, passthrough: bool = False, routes: dict[tuple[str, int], int] | None = None
    ) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.passthrough = passthrough
        self.routes = routes or {}
        self.asked: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append((host, port))
        if self.passthrough:
            return await self.inner.connect_tcp(
                host,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            )
        if (host, port) in self.routes:
            return await self.inner.connect_tcp(
                "127.0.0.1", self.routes[host, port], timeout=timeout
            )
        raise httpcore.ConnectError("the spy network connects nowhere")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
