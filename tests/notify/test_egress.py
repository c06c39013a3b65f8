"""Webhook egress: unsafe targets are refused when saved and again at every connection.

The connection checks are watched through a spy socket factory: a refused
target never gets a socket, so no private address is ever dialled.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from deskside_notify.egress import (
    EgressPolicy,
    UnsafeConnection,
    UnsafeDestination,
    WebhookSender,
    check_url,
    guarded_sockets,
    is_forbidden_address,
    parse_host_address,
    retry_after_seconds,
)
from tests.support.servers import serving_over_http
from tests.support.spy_network import SpyNetwork

STRICT = EgressPolicy()
LOOPBACK_ALLOWED = EgressPolicy(allow_http=True, allow_private=True)

UNSAFE_URLS = [
    # loopback, private, link-local, CGNAT, reserved, multicast, broadcast, unspecified
    "https://127.0.0.1/",
    "https://127.255.255.254/",
    "https://10.0.0.1/",
    "https://172.16.0.1/",
    "https://172.31.255.255/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/",
    "https://100.127.255.254/",
    "https://0.0.0.0/",
    "https://0.1.2.3/",
    "https://192.0.0.1/",
    "https://192.0.2.1/",
    "https://198.18.0.1/",
    "https://198.51.100.7/",
    "https://203.0.113.9/",
    "https://224.0.0.1/",
    "https://239.255.255.250/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    # odd spellings of loopback and metadata addresses
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0177.0.0.1/",
    "https://0x7f.0.0.1/",
    "https://127.1/",
    "https://127.0.1/",
    "https://0/",
    "https://017700000001/",
    "https://2852039166/",
    "https://0xa9.0xfe.0xa9.0xfe/",
    "https://10.1/",
    "https://192.168.257/",
    "https://127.0.0.1./",
    # IPv6 and IPv4 inside IPv6
    "https://[::1]/",
    "https://[::]/",
    "https://[fe80::1]/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    "https://[ff02::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::ffff:10.0.0.1]/",
    "https://[::127.0.0.1]/",
    "https://[64:ff9b::127.0.0.1]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[2002:7f00:1::]/",
    "https://[2002:c0a8:101::1]/",
    "https://[2001:db8::1]/",
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "https://[fe80::1%25eth0]/",
    # names that mean this machine or the cloud's metadata service
    "https://localhost/",
    "https://LOCALHOST/",
    "https://api.localhost/",
    "https://metadata.google.internal/",
    "https://metadata/",
    "https://printer.local/",
    "https://intranet/",
    # schemes, credentials, ports
    "http://hooks.example.com/",
    "ftp://hooks.example.com/",
    "file:///etc/passwd",
    "gopher://hooks.example.com/",
    "javascript:alert(1)",
    "https://user:pass@hooks.example.com/",
    "https://hooks.example.com:0/",
    "https://hooks.example.com:99999/",
    "https:///no-host",
]


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_unsafe_targets_are_refused_when_saved(url: str) -> None:
    with pytest.raises(UnsafeDestination):
        check_url(url, STRICT)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/deskside",
        "https://93.184.215.14:8443/x",
        "https://[2606:4700::6810:85e5]/x",
        "https://1.1.1.1/",
    ],
)
def test_public_targets_are_accepted(url: str) -> None:
    check_url(url, STRICT)


def test_the_embedded_stack_may_allow_loopback_explicitly() -> None:
    check_url("http://127.0.0.1:9000/hooks", LOOPBACK_ALLOWED)
    with pytest.raises(UnsafeDestination):
        check_url("http://127.0.0.1:9000/hooks", EgressPolicy(allow_private=True))


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("8.8.8.8", False),
        ("::ffff:8.8.8.8", False),
        ("64:ff9b::808:808", False),
        ("2606:4700::6810:85e5", False),
        ("::ffff:192.168.0.1", True),
        ("64:ff9b::10.0.0.1", True),
        ("2002:a00:1::", True),
        ("100.100.100.100", True),
        ("198.19.255.255", True),
    ],
)
def test_embedded_addresses_are_judged_by_what_they_embed(address: str, forbidden: bool) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is forbidden


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.2", "10.1.0.2"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("08.1.1.1", None),
    ],
)
def test_addresses_are_read_the_way_the_c_library_reads_them(
    host: str, expected: str | None
) -> None:
    parsed = parse_host_address(host)
    assert (str(parsed) if parsed else None) == expected


class Endpoint:
    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.body = b"ok"
        self.cookies_sent: list[str | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        await request.body()
        self.cookies_sent.append(request.headers.get("cookie"))
        await Response(self.body, self.status, headers=self.headers)(scope, receive, send)


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[Endpoint, str]]:
    app = Endpoint()
    async with serving_over_http(app, lifespan="off") as url:
        yield app, url


def rebinding(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    """DNS that answers `address` for every name: what a rebinding attacker's server does."""

    async def resolve(self: Any, host: str, port: int, **_: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr("asyncio.base_events.BaseEventLoop.getaddrinfo", resolve)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "100.64.1.1"])
async def test_a_name_resolving_to_a_private_address_is_never_dialled(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    spy = SpyNetwork(passthrough=True)
    sender = WebhookSender(EgressPolicy(allow_http=True), timeout=2, socket_factory=spy)
    rebinding(monkeypatch, address)
    try:
        # The name passed the check when it was saved; at connect time it points inside.
        result = await sender.post("http://rebind.example.com/hook", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("Refused:")
    assert "not a public address" in result.error
    assert spy.asked == []


async def test_a_name_with_one_private_answer_among_public_ones_is_refused_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def resolve(self: Any, host: str, port: int, **_: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in ("93.184.216.34", "10.0.0.7")
        ]

    monkeypatch.setattr("asyncio.base_events.BaseEventLoop.getaddrinfo", resolve)
    spy = SpyNetwork(passthrough=True)
    sender = WebhookSender(EgressPolicy(allow_http=True), timeout=2, socket_factory=spy)
    try:
        result = await sender.post("http://mixed.example.com/hook", b"{}", {})
    finally:
        await sender.aclose()
    # Not even the public answer is tried: a rebinding server would win the next time.
    assert result.error == "Refused: mixed.example.com resolves to 10.0.0.7, not a public address."
    assert spy.asked == []


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.7", "::1", "::ffff:169.254.169.254"])
def test_no_socket_is_made_for_a_private_address_whatever_led_there(address: str) -> None:
    # The last check, on the address a socket is about to connect to: it also covers an
    # address written in the URL, which the resolver never sees.
    spy = SpyNetwork(passthrough=True)
    socket_for = guarded_sockets(EgressPolicy(), spy)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with pytest.raises(UnsafeConnection, match="not a public address"):
        socket_for((family, socket.SOCK_STREAM, 6, "", (address, 443)))
    assert spy.asked == []
    with socket_for((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))):
        assert spy.asked == [("93.184.216.34", 443)]


async def test_the_checked_address_is_the_one_dialled(
    monkeypatch: pytest.MonkeyPatch, endpoint: tuple[Endpoint, str]
) -> None:
    _app, url = endpoint
    port = int(url.rsplit(":", 1)[1])
    spy = SpyNetwork(passthrough=True)
    sender = WebhookSender(LOOPBACK_ALLOWED, timeout=2, socket_factory=spy)
    rebinding(monkeypatch, "127.0.0.1")
    try:
        result = await sender.post(f"http://receiver.example.com:{port}/hook", b"{}", {})
    finally:
        await sender.aclose()
    assert result.succeeded
    assert spy.asked == [("127.0.0.1", port)]


async def test_redirects_are_failures_and_are_not_followed(
    endpoint: tuple[Endpoint, str],
) -> None:
    app, url = endpoint
    app.status, app.headers = 307, {"location": "http://169.254.169.254/latest"}
    spy = SpyNetwork(passthrough=True)
    sender = WebhookSender(LOOPBACK_ALLOWED, timeout=2, socket_factory=spy)
    try:
        result = await sender.post(f"{url}/hook", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code == 307
    assert not result.succeeded
    assert "redirects are not followed" in str(result.error)
    assert len(spy.asked) == 1


async def test_what_a_receiver_says_is_kept_to_2_kib_with_its_retry_after(
    endpoint: tuple[Endpoint, str],
) -> None:
    app, url = endpoint
    app.status, app.headers, app.body = 429, {"retry-after": "120"}, b"x" * 10_000
    sender = WebhookSender(LOOPBACK_ALLOWED, timeout=2)
    try:
        result = await sender.post(f"{url}/hook", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code == 429
    assert result.retry_after == 120
    assert result.response_excerpt == "x" * 2048


async def test_a_refused_connection_is_a_result_not_an_exception() -> None:
    sender = WebhookSender(LOOPBACK_ALLOWED, timeout=2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        result = await sender.post(f"http://127.0.0.1:{port}/hook", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code is None
    assert result.error


async def test_retry_after_given_as_a_date_becomes_seconds(
    endpoint: tuple[Endpoint, str],
) -> None:
    app, url = endpoint
    later = datetime.now(UTC) + timedelta(minutes=10)
    app.status, app.headers = 503, {"retry-after": format_datetime(later, usegmt=True)}
    sender = WebhookSender(LOOPBACK_ALLOWED, timeout=2)
    try:
        result = await sender.post(f"{url}/hook", b"{}", {})
    finally:
        await sender.aclose()
    assert result.status_code == 503
    assert result.retry_after is not None
    assert 500 <= result.retry_after <= 600


async def test_a_cookie_one_receiver_sets_is_never_sent_on(
    monkeypatch: pytest.MonkeyPatch, endpoint: tuple[Endpoint, str]
) -> None:
    app, url = endpoint
    port = int(url.rsplit(":", 1)[1])
    # A name, not an address: cookie jars keep no cookies for bare addresses.
    rebinding(monkeypatch, "127.0.0.1")
    app.headers = {"set-cookie": "tenant_a=secret; Domain=example.com; Path=/"}
    sender = WebhookSender(LOOPBACK_ALLOWED, timeout=2)
    try:
        results = [
            await sender.post(f"http://{host}.example.com:{port}/hook", b"{}", {})
            for host in ("a", "b")
        ]
    finally:
        await sender.aclose()
    assert all(result.succeeded for result in results)
    assert app.cookies_sent == [None, None]


async def test_a_sender_closed_and_used_again_still_sends(
    endpoint: tuple[Endpoint, str],
) -> None:
    _app, url = endpoint
    sender = WebhookSender(LOOPBACK_ALLOWED, timeout=2)
    try:
        assert (await sender.post(f"{url}/hook", b"{}", {})).succeeded
        await sender.aclose()
        assert (await sender.post(f"{url}/hook", b"{}", {})).succeeded
    finally:
        await sender.aclose()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), (" 30 ", 30.0), ("²", None), ("١٢", None), ("soon", None), ("", None)],
)
def test_retry_after_is_seconds_in_ascii_digits_or_nothing(
    value: str, seconds: float | None
) -> None:
    # A receiver's header must never turn a delivery it took into a crash and a resend.
    assert retry_after_seconds(value) == seconds


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never answers: a receiver that hangs."""
    hung_up = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await hung_up.wait()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        hung_up.set()
        server.close()
        await server.wait_closed()


async def test_a_receiver_that_never_answers_times_out(silent_server: int) -> None:
    sender = WebhookSender(LOOPBACK_ALLOWED, timeout=0.2)
    try:
        result = await sender.post(f"http://127.0.0.1:{silent_server}/hook", b"{}", {})
    finally:
        await sender.aclose()
    assert result.timed_out
    assert result.status_code is None
    assert result.error == "Timed out."
