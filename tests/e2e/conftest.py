from __future__ import annotations

import socket


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on right now (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
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
