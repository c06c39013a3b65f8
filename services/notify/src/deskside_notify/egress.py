"""Webhook egress that cannot be turned against the internal network (OWASP API7, SSRF).

Two checks. When a subscription is saved, its URL must be `https` (unless
`http` is allowed) and must not name a private address, however it is
spelled: `2130706433`, `0177.0.0.1`, `127.1` and `[::ffff:127.0.0.1]` are all
loopback. And at every connection, the host is resolved here, every address
it resolves to is checked, the socket connects to the checked address (a DNS
answer that changes between the check and the connect, rebinding, cannot slip
through), and the address each socket is about to connect to is checked once
more. TLS still verifies the certificate against the URL's host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

RESPONSE_EXCERPT_BYTES = 2048
# Names that mean "this machine" or "the cloud's metadata service" whatever DNS says.
_FORBIDDEN_NAMES = ("localhost", "metadata.google.internal", "metadata", "instance-data")
# Suffixes no public host has: RFC 6761/6762 special names, `home.arpa`, and the
# private top-level names RFC 6762 appendix G lists, plus Kubernetes' `.svc`.
_FORBIDDEN_SUFFIXES = (
    ".localhost",
    ".internal",
    ".local",
    ".localdomain",
    ".home.arpa",
    ".intranet",
    ".private",
    ".corp",
    ".home",
    ".lan",
    ".svc",
)
# Below 1024 only the web's own ports: an HTTP POST to SSH, SMTP or a database
# port is never a webhook, and is how a sender is made to talk other protocols.
_WEB_PORTS = (80, 443)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
# Not globally reachable per the IANA registry, newer than Python 3.11's tables:
# local-use NAT64 (RFC 8215), SRv6 SIDs (RFC 9602), IPv6 documentation (RFC 9637).
_NOT_GLOBAL_V6 = tuple(
    ipaddress.IPv6Network(network) for network in ("64:ff9b:1::/48", "5f00::/16", "3fff::/20")
)
# A host whose last label is a number is an IPv4 address to browsers and most
# HTTP clients (WHATWG URL), however odd its spelling.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class UnsafeDestination(ValueError):
    """A webhook URL or address Deskside will not send to; the message says why."""


@dataclass(frozen=True)
class EgressPolicy:
    allow_http: bool = False
    # For the embedded stack and tests only; production settings refuse it.
    allow_private: bool = False


def is_forbidden_address(address: IPAddress) -> bool:
    """Anything not on the public internet, including IPv6 forms that embed such an address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_forbidden_address(embedded)
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED_ADDRESS_SPACE:
        return True  # carrier-grade NAT: `is_global` says False already; said here for clarity
    if isinstance(address, ipaddress.IPv6Address) and any(address in n for n in _NOT_GLOBAL_V6):
        return True
    return not address.is_global or address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        server, client = address.teredo
        # A Teredo tunnel is refused if either end is inside; the server is the one dialled first.
        return server if is_forbidden_address(server) else client
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    packed = address.packed
    if packed[:12] == bytes(12) and int(address) > 1:
        return ipaddress.IPv4Address(packed[12:])  # IPv4-compatible (deprecated) `::a.b.c.d`
    return None


def parse_host_address(host: str) -> IPAddress | None:
    """The address `host` spells, in any form the C library would accept; None for a name.

    `inet_aton` reads `127.1`, `0x7f.0.0.1`, `0177.0.0.1` and `2130706433` as
    127.0.0.1, and so do many HTTP clients: all of them are addresses here.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    parts = host.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4 or not all(parts):
        return None
    try:
        numbers = [
            int(part, 0) if not part.startswith("0") or part == "0" else _octal(part)
            for part in parts
        ]
    except ValueError:
        return None  # a name, such as `example.com`
    *leading, last = numbers
    if any(not 0 <= number <= 255 for number in leading):
        return None
    if not 0 <= last < 256 ** (5 - len(parts)):
        return None
    value = 0
    for number in leading:
        value = value << 8 | number
    value = value << 8 * (5 - len(parts)) | last
    return ipaddress.IPv4Address(value)


def _octal(part: str) -> int:
    if part.lower().startswith("0x"):
        return int(part, 16)
    return int(part, 8)


def check_url(url: str, policy: EgressPolicy) -> None:
    """Raise UnsafeDestination unless `url` is one webhooks may be sent to."""
    if not url.isprintable() or any(character in url for character in ' \\<>"{}|^`'):
        # Parsers disagree on these (`https://a\\@b/` is host `b` to one, `a` to another):
        # a URL that means one thing to every parser has none of them.
        raise UnsafeDestination("The URL has characters a URL may not contain; encode them.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeDestination(f"The URL cannot be read: {exc}.") from None
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeDestination(
            "Webhook URLs must use https."
            if parts.scheme == "http"
            else f"The scheme {parts.scheme!r} is not allowed; use https."
        )
    if parts.username is not None or parts.password is not None:
        raise UnsafeDestination("Credentials in the URL are not allowed; use the signature.")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeDestination("The URL names no host.")
    if port is not None and port < 1024 and port not in _WEB_PORTS:
        raise UnsafeDestination(
            f"Port {port} belongs to other protocols; use 80, 443 or a port from 1024 up."
        )
    if _NUMERIC_LABEL.match(host.rstrip(".").rsplit(".", 1)[-1]) and not _plain_ipv4(host):
        # `0177.1`, `2130706433` or `010.0.0.1` mean different addresses to
        # different parsers; only the plain form means one.
        raise UnsafeDestination(
            f"{host} is not an IPv4 address written the usual way (four decimal numbers)."
        )
    if policy.allow_private:
        return
    address = parse_host_address(host)
    if address is not None:
        if is_forbidden_address(address):
            spelled = host if host.strip("[]") == str(address) else f"{host} ({address})"
            raise UnsafeDestination(f"{spelled} is not a public address.")
        return
    host = host.rstrip(".")  # `localhost.` is `localhost`
    if host in _FORBIDDEN_NAMES or host.endswith(_FORBIDDEN_SUFFIXES) or "." not in host:
        raise UnsafeDestination(f"{host} is a local or internal name, not a public host.")


def _plain_ipv4(host: str) -> bool:
    try:
        return str(ipaddress.IPv4Address(host)) == host
    except ValueError:
        return False


# aiohttp's type for what a socket factory is given: (family, type, proto, name, address).
AddressInfo = tuple[int, int, int, str, tuple[Any, ...]]
SocketFactory = Callable[[AddressInfo], socket.socket]


class UnsafeConnection(OSError):
    """A connection refused by the egress guard, before any packet left."""


class _GuardedResolver(AbstractResolver):
    """Resolves each host itself, and refuses a host if any of its answers is not public."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        try:
            answers = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, family=family
            )
        except OSError as exc:
            raise OSError(f"{host} does not resolve: {exc}") from None
        results: list[ResolveResult] = []
        for answer_family, _, proto, _, address in answers:
            if not self.policy.allow_private:
                # Any forbidden answer refuses the host: picking the "good" one would let a
                # rebinding server win the next time.
                checked = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
                if is_forbidden_address(checked):
                    raise UnsafeConnection(f"{host} resolves to {checked}, not a public address")
            results.append(
                ResolveResult(
                    hostname=host,
                    host=str(address[0]),
                    port=port,
                    family=answer_family,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise OSError(f"{host} does not resolve")
        return results

    async def close(self) -> None:
        return None


def guarded_sockets(policy: EgressPolicy, make: SocketFactory | None) -> SocketFactory:
    """Checks the very address each socket is about to connect to.

    The resolver checks names; this sees every connection, also to an address
    written in the URL (which aiohttp never resolves), whatever path led there.
    """

    def socket_for(info: AddressInfo) -> socket.socket:
        family, kind, proto, _, address = info
        checked = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        if not policy.allow_private and is_forbidden_address(checked):
            raise UnsafeConnection(f"{checked} is not a public address")
        if make is not None:
            return make(info)
        return socket.socket(family=family, type=kind, proto=proto)

    return socket_for


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    duration_ms: int
    error: str | None = None
    response_excerpt: str | None = None
    retry_after: float | None = None
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    """Posts webhook bodies; never raises for what the network or the receiver does.

    On aiohttp's client, the gateway's own: a POST costs about a tenth of the
    CPU it did on httpx, which was a third of notify's work during a storm of
    creates (bench/README.md, eighth run). `socket_factory` is for tests: it
    makes the sockets, after the guard has checked where they go.
    """

    def __init__(
        self,
        policy: EgressPolicy,
        timeout: float = 10.0,
        *,
        socket_factory: SocketFactory | None = None,
    ) -> None:
        self.policy = policy
        self.timeout = timeout
        self._socket_factory = socket_factory
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: aiohttp binds a session to the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=_GuardedResolver(self.policy),
                # Every new connection is resolved and checked afresh, as DNS says now.
                use_dns_cache=False,
                socket_factory=guarded_sockets(self.policy, self._socket_factory),
                # Verified against the URL's host name (aiohttp sends it as SNI and checks the
                # certificate against it), with the same CA bundle as the rest of Deskside.
                ssl=ssl.create_default_context(cafile=certifi.where()),
                limit=100,
                keepalive_timeout=5.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # The whole attempt is bounded in `post`, DNS included.
                timeout=aiohttp.ClientTimeout(total=None),
                # Never a proxy from the environment: the guard checks where packets go.
                trust_env=False,
                # No cookies kept: one receiver must not set what another is sent.
                cookie_jar=aiohttp.DummyCookieJar(),
                # The excerpt kept is the bytes as sent; nothing asks for them compressed.
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            check_url(url, self.policy)
            # One bound for the whole attempt, DNS included, so a receiver trickling
            # its answer cannot hold a worker.
            async with asyncio.timeout(self.timeout):
                async with self._client().post(
                    url, data=body, headers=headers, allow_redirects=False
                ) as response:
                    excerpt = await _excerpt(response)
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
        except UnsafeDestination as exc:
            return AttemptResult(None, elapsed(), error=f"Refused: {exc}")
        except aiohttp.InvalidURL as exc:
            # check_url let it through, aiohttp cannot use it: refused, not a crash.
            return AttemptResult(None, elapsed(), error=f"Refused: the URL is not usable: {exc}.")
        except TimeoutError:
            return AttemptResult(None, elapsed(), error="Timed out.", timed_out=True)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            refusal = _refusal(exc)
            if refusal is not None:
                return AttemptResult(None, elapsed(), error=f"Refused: {refusal}.")
            return AttemptResult(None, elapsed(), error=f"{type(exc).__name__}: {exc}")
        status = response.status
        error = None
        if status in _REDIRECTS and "location" in response.headers:
            error = f"Answered {status}: redirects are not followed."
        elif not 200 <= status < 300:
            error = f"Answered {status}."
        return AttemptResult(
            status,
            elapsed(),
            error=error,
            response_excerpt=excerpt,
            retry_after=retry_after,
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _refusal(exc: BaseException) -> UnsafeConnection | None:
    """The guard's refusal behind an aiohttp error, if that is what it was."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:  # a cycle of causes ends the walk
        if isinstance(seen, UnsafeConnection):
            return seen
        visited.add(id(seen))
        cause = getattr(seen, "os_error", None)  # aiohttp's connector errors keep it here
        seen = cause if isinstance(cause, BaseException) else seen.__cause__
    return None


async def _excerpt(response: aiohttp.ClientResponse) -> str:
    """The first 2 KiB of the answer; the rest is never read."""
    collected = b""
    while len(collected) < RESPONSE_EXCERPT_BYTES:
        chunk = await response.content.read(RESPONSE_EXCERPT_BYTES - len(collected))
        if not chunk:
            break
        collected += chunk
    return collected.decode("utf-8", errors="replace")


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from `Retry-After`, given as seconds or as an HTTP date; None if neither."""
    if not value:
        return None
    value = value.strip()
    # ASCII digits only: "²" and "١٢" are digits to str.isdigit, not to float().
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
        return max(0.0, moment.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None
