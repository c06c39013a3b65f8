"""The pass-through to the services: a pure ASGI app on an aiohttp client.

Bodies stream both ways, chunk by chunk, so a large upload or export never
sits whole in the gateway's memory. aiohttp is the client because it was
measured several times faster than httpx for this hop (gateway/README.md).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDict
from prometheus_client import Counter
from starlette.types import Receive, Scope, Send
from yarl import URL

from deskside_kit.auth import SERVICE_TOKEN_HEADER
from deskside_kit.context import REQUEST_ID_HEADER, current_request_id
from deskside_kit.problems import PROBLEM_TYPE_BASE, problem_response

logger = logging.getLogger("deskside.gateway")

# RFC 9110 section 7.6.1: meant for one connection, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# The credential of service-to-service calls: never accepted from outside.
_SERVICE_TOKEN = SERVICE_TOKEN_HEADER.lower()
_FORWARDED = frozenset({"forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})
# The gateway's server stamps its own Date; two would be invalid.
_RESPONSE_DROPPED = frozenset({b"date", b"server"})
# CORS is the gateway's alone (cors.py): a service's own Access-Control-* never leaves.
_CORS_PREFIX = b"access-control-"
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# Headers aiohttp would add on its own; the caller's own are forwarded as sent.
_NO_AUTO_HEADERS = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})


class ClientDisconnected(Exception):
    """The caller went away while its request body was still coming."""


class UpstreamProxy:
    """Forwards a request to one service's base URL and streams its answer back."""

    def __init__(
        self,
        upstreams: dict[str, str],
        *,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int,
        trust_forwarded_headers: bool,
        upstream_errors: Counter,
    ) -> None:
        self.upstreams = upstreams
        self.trust_forwarded_headers = trust_forwarded_headers
        self.upstream_errors = upstream_errors
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            # Waiting for a free pooled connection plus opening one.
            connect=read_timeout,
            sock_connect=connect_timeout,
            # Silence between two reads of the answer: a stuck service, not a slow download.
            sock_read=read_timeout,
        )
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            # Below uvicorn's 5 s keep-alive, so the gateway drops an idle
            # connection before the service does and never sends on a closed one.
            keepalive_timeout=4,
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            # Compressed answers pass through untouched.
            auto_decompress=False,
            skip_auto_headers=_NO_AUTO_HEADERS,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the proxy is not started")
        return self._session

    async def __call__(self, scope: Scope, receive: Receive, send: Send, service: str) -> None:
        path: str = scope["path"]
        if _has_dot_segment(path):
            response = problem_response(
                400,
                detail="Paths with '.' or '..' segments are not accepted.",
                problem_type=PROBLEM_TYPE_BASE + "bad-request",
                instance=path,
            )
            await response(scope, receive, send)
            return

        raw_path = scope.get("raw_path") or quote(path).encode()
        query = scope.get("query_string", b"")
        target = self.upstreams[service] + raw_path.decode("latin-1")
        if query:
            target += "?" + query.decode("latin-1")
        headers = self._request_headers(scope)
        has_body = scope["method"] not in _BODYLESS_METHODS or any(
            name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"]
        )

        response_started = False
        try:
            async with self.session.request(
                scope["method"],
                URL(target, encoded=True),
                headers=headers,
                data=_request_body(receive) if has_body else None,
                allow_redirects=False,
            ) as upstream:
                response_started = True
                await send(
                    {
                        "type": "http.response.start",
                        "status": upstream.status,
                        "headers": _response_headers(upstream.raw_headers),
                    }
                )
                async for chunk in upstream.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except ClientDisconnected:
            return
        except (TimeoutError, aiohttp.ClientError) as exc:
            if response_started:
                # Half an answer has gone out: all that is left is to drop the connection.
                raise
            # aiohttp's timeouts are TimeoutErrors too, so this test comes first.
            timed_out = isinstance(exc, TimeoutError)
            kind = "timeout" if timed_out else "unreachable"
            self.upstream_errors.labels(service, kind).inc()
            logger.warning("%s %s for %s %s: %r", service, kind, scope["method"], path, exc)
            response = problem_response(
                504 if timed_out else 502,
                detail=f"The {service} service "
                + ("did not answer in time." if timed_out else "is not reachable."),
                problem_type=PROBLEM_TYPE_BASE
                + ("upstream-timeout" if timed_out else "upstream-unavailable"),
                instance=path,
                service=service,
            )
            await response(scope, receive, send)

    def _request_headers(self, scope: Scope) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        named_in_connection: set[str] = set()
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            if name == "connection":
                named_in_connection.update(part.strip().lower() for part in value.split(","))
            headers.add(name, value)
        # Transfer-Encoding goes too: aiohttp frames the streamed body itself.
        for name in (*HOP_BY_HOP, *named_in_connection, "host", _SERVICE_TOKEN):
            headers.popall(name, None)

        client_host = (scope.get("client") or ("", 0))[0]
        host = headers.get("x-forwarded-host") if self.trust_forwarded_headers else None
        host = host or _header(scope, b"host")
        proto = headers.get("x-forwarded-proto") if self.trust_forwarded_headers else None
        proto = proto or scope.get("scheme", "http")
        forwarded_for = headers.get("x-forwarded-for") if self.trust_forwarded_headers else None
        for name in _FORWARDED:
            headers.popall(name, None)
        headers["x-forwarded-for"] = (
            f"{forwarded_for}, {client_host}" if forwarded_for else client_host
        )
        headers["x-forwarded-proto"] = proto
        if host:
            headers["x-forwarded-host"] = host
        # The id ObservabilityMiddleware accepted or made, never a malformed incoming one.
        headers[REQUEST_ID_HEADER] = current_request_id() or ""
        return headers


def _has_dot_segment(path: str) -> bool:
    return any(segment in (".", "..") for segment in path.split("/"))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


def _response_headers(raw_headers: tuple[tuple[bytes, bytes], ...]) -> list[tuple[bytes, bytes]]:
    named_in_connection: set[bytes] = set()
    for name, value in raw_headers:
        if name.lower() == b"connection":
            named_in_connection.update(part.strip().lower() for part in value.split(b","))
    dropped = _HOP_BY_HOP_BYTES | _RESPONSE_DROPPED | named_in_connection
    return [
        (name.lower(), value)
        for name, value in raw_headers
        if name.lower() not in dropped and not name.lower().startswith(_CORS_PREFIX)
    ]


_HOP_BY_HOP_BYTES = frozenset(name.encode() for name in HOP_BY_HOP)
