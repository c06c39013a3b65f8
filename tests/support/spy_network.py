"""Sockets for the webhook sender that record every connection it is asked for."""

from __future__ import annotations

import socket
from typing import Any


class SpyNetwork:
    """Records each (host, port) the sender dials: pass it as `socket_factory`.

    It is asked after the egress guard has checked the address, so what it
    records is what would have gone out. `passthrough`: make every connection
    for real. Otherwise make none (so no packet can leave), except those
    `routes` maps onto a loopback port.
    """

    def __init__(
        self, *, passthrough: bool = False, routes: dict[tuple[str, int], int] | None = None
    ) -> None:
        self.passthrough = passthrough
        self.routes = routes or {}
        self.asked: list[tuple[str, int]] = []

    def __call__(self, info: tuple[int, int, int, str, tuple[Any, ...]]) -> socket.socket:
        family, kind, proto, _, address = info
        host, port = str(address[0]), int(address[1])
        self.asked.append((host, port))
        if self.passthrough:
            return socket.socket(family=family, type=kind, proto=proto)
        if (host, port) in self.routes:
            return _Rerouted(self.routes[host, port])
        raise ConnectionRefusedError("the spy network connects nowhere")


class _Rerouted(socket.socket):
    """A socket that connects to a loopback port, whatever address it is given."""

    def __init__(self, port: int) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_STREAM)
        self.port = port

    def connect(self, address: Any) -> None:
        super().connect(("127.0.0.1", self.port))

    def connect_ex(self, address: Any) -> int:
        return super().connect_ex(("127.0.0.1", self.port))
