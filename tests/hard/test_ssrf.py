"""SSRF (OWASP API7): webhook targets that point inside are never saved and never dialled.

The expectations come from the IANA special-purpose address registries
(entries not "globally reachable"), written out here rather than taken from
the code under test. Two phases:

- **saved**: every target is offered to `POST /v1/webhooks` as an admin; none
  may be stored.
- **dialled**: every target, and names whose DNS answers point inside (some
  only on the second lookup), are handed to the webhook sender with a spy in
  place of the network; the spy must see no connection to any of them. The
  spy never opens a real socket, except to map one public address onto a
  loopback server that answers with redirects.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from deskside_notify.egress import EgressPolicy, WebhookSender
from tests.hard import parts
from tests.support.apps import serving
from tests.support.servers import serving_over_http
from tests.support.spy_network import SpyNetwork
from tests.support.tokens import bearer

pytestmark = pytest.mark.hard

ADMIN = bearer("root", "admin")
# A public address the fake DNS hands out for names that should work.
PUBLIC = "93.184.216.34"

# Not globally reachable, per the IANA IPv4 and IPv6 special-purpose registries,
# plus multicast and the broadcast address.
SPECIAL_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/29",
    "192.0.0.170/31",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
]
SPECIAL_V6 = [
    "::1/128",
    "::/128",
    "64:ff9b:1::/48",
    "100::/64",
    "2001:2::/48",
    "2001:10::/28",
    "2001:20::/28",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
]
# Inside addresses worth spelling every way a parser might accept.
FAVOURITES = ["127.0.0.1", "169.254.169.254", "10.0.0.1", "192.168.0.1", "100.100.100.200"]


def _samples(network: str) -> list[str]:
    """First, second, middle and last address of a range (fewer for tiny ranges)."""
    net = ipaddress.ip_network(network)
    picks = {0, 1, net.num_addresses // 2, net.num_addresses - 1}
    return [str(net[i]) for i in sorted(picks) if i < net.num_addresses]


def inside_addresses() -> list[str]:
    return [a for network in SPECIAL_V4 + SPECIAL_V6 for a in _samples(network)]


def _spellings(address: str) -> list[str]:
    """One IPv4 address as the C library, browsers and IPv6 transition schemes write it."""
    value = int(ipaddress.IPv4Address(address))
    a, b, c, d = (int(x) for x in address.split("."))
    return [
        str(value),
        hex(value),
        "0" + oct(value)[2:],
        f"{a:#o}.{b:#o}.{c:#o}.{d:#o}".replace("0o", "0"),
        f"{a:#x}.{b:#x}.{c:#x}.{d:#x}",
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}",
        f"{a:03}.{b:03}.{c:03}.{d:03}",
        f"{address}.",
        f"[::ffff:{address}]",
        f"[::ffff:{(a << 8) | b:x}:{(c << 8) | d:x}]",
        f"[::{address}]",
        f"[64:ff9b::{address}]",
        f"[2002:{(a << 8) | b:x}:{(c << 8) | d:x}::1]",
    ]


METADATA_AND_LOCAL_NAMES = [
    "localhost",
    "LOCALHOST",
    "localhost.",
    "api.localhost",
    "metadata",
    "metadata.google.internal",
    "instance-data",
    "host.docker.internal",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "printer.local",
    "router.lan",
    "wiki.corp",
    "nas.home",
    "intranet",
    "files.intranet",
    "db.private",
    "box.home.arpa",
    "[fd00:ec2::254]",
]

BAD_SCHEMES_AND_SHAPES = [
    "http://hooks.example.com/",
    "ftp://hooks.example.com/",
    "file:///etc/passwd",
    "gopher://hooks.example.com:70/_x",
    "dict://hooks.example.com:11211/stat",
    "ldap://hooks.example.com/",
    "ws://hooks.example.com/",
    "jar:https://hooks.example.com/x.jar!/",
    "javascript:alert(1)",
    "data:text/plain,hi",
    "hooks.example.com/no-scheme",
    "//hooks.example.com/",
    "https:///no-host",
    "https://user:pass@hooks.example.com/",
    "https://hooks.example.com@127.0.0.1/",
    "https://127.0.0.1\\@hooks.example.com/",
    "https://hooks.example.com\\@127.0.0.1/",
    "https://127.0.0.1 .hooks.example.com/",
    "https://hooks.example.com\t@127.0.0.1/",
    "https://hooks.example.com/\r\nHost: 127.0.0.1",
]

BAD_PORTS = [0, 7, 21, 22, 23, 25, 53, 110, 111, 135, 139, 445, 587, 636, 873, 993, 65536, 99999]


def saved_phase_targets() -> list[str]:
    targets = [f"https://{_bracket(a)}/hook" for a in inside_addresses()]
    targets += [f"https://{s}/hook" for a in FAVOURITES for s in _spellings(a)]
    targets += [f"https://{name}/hook" for name in METADATA_AND_LOCAL_NAMES]
    targets += BAD_SCHEMES_AND_SHAPES
    targets += [f"https://hooks.example.com:{port}/hook" for port in BAD_PORTS]
    return targets


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _inside(network: SpyNetwork) -> list[tuple[str, int]]:
    return [(host, port) for host, port in network.asked if host != PUBLIC]


class FakeDns:
    """Answers by name: a list of answer lists, used in turn (the last one repeats)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        dns = self

        async def getaddrinfo(self: Any, host: str, port: int, **_: Any) -> list[Any]:
            turns = dns.answers.get(host, [[PUBLIC]])
            answer = turns.pop(0) if len(turns) > 1 else turns[0]
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, port),
                )
                for address in answer
            ]

        monkeypatch.setattr("asyncio.base_events.BaseEventLoop.getaddrinfo", getaddrinfo)


async def test_no_inside_target_is_ever_saved(tmp_path: Path) -> None:
    targets = saved_phase_targets()
    saved, unclear = [], []
    async with serving(parts.notify(tmp_path)) as client:
        control = await client.post(
            "/v1/webhooks",
            json={"url": "https://hooks.example.com/deskside", "event_types": ["*"]},
            headers=ADMIN,
        )
        assert control.status_code == 201, control.text
        for url in targets:
            response = await client.post(
                "/v1/webhooks", json={"url": url, "event_types": ["*"]}, headers=ADMIN
            )
            if response.status_code < 300:
                saved.append(url)
            elif response.status_code != 422 or "url" not in response.text:
                unclear.append(f"{url}: {response.status_code}")
        listed = (await client.get("/v1/webhooks", headers=ADMIN)).json()["items"]

    print(f"\nSSRF, when saved: {len(targets)} targets, {len(saved)} accepted")
    assert saved == []
    assert unclear == []
    assert [hook["url"] for hook in listed] == ["https://hooks.example.com/deskside"]
    assert len(targets) >= 200


async def test_no_inside_target_is_ever_dialled(monkeypatch: pytest.MonkeyPatch) -> None:
    dns = FakeDns()
    dns.install(monkeypatch)
    targets = saved_phase_targets()
    # Names that look public and resolve inside, on every lookup.
    for index, address in enumerate(inside_addresses()):
        name = f"inside-{index}.attacker.example"
        dns.answers[name] = [[address]]
        targets.append(f"https://{name}/hook")
    # One good answer and one bad: refused whole, or a rebinding server wins next time.
    for index, address in enumerate(FAVOURITES):
        name = f"mixed-{index}.attacker.example"
        dns.answers[name] = [[PUBLIC, address]]
        targets.append(f"https://{name}/hook")

    network = SpyNetwork()
    sender = WebhookSender(EgressPolicy(), timeout=2, socket_factory=network)
    delivered = []
    try:
        for url in targets:
            result = await sender.post(url, b"{}", {"content-type": "application/json"})
            if result.succeeded:
                delivered.append(url)
    finally:
        await sender.aclose()

    print(
        f"\nSSRF, when dialled: {len(targets)} targets, {len(delivered)} delivered, "
        f"{len(_inside(network))} connection attempts to them"
    )
    assert delivered == []
    assert _inside(network) == []


async def test_a_dns_answer_that_changes_between_lookups_is_never_dialled_inside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dns = FakeDns()
    dns.install(monkeypatch)
    names = []
    for index, address in enumerate([*FAVOURITES, "::1", "fd00::1", "::ffff:127.0.0.1"]):
        name = f"rebind-{index}.attacker.example"
        # Public when first looked at, inside afterwards: the classic rebinding attack.
        dns.answers[name] = [[PUBLIC], [address]]
        names.append(name)

    network = SpyNetwork()
    sender = WebhookSender(EgressPolicy(), timeout=2, socket_factory=network)
    try:
        for name in names:
            for _ in range(2):  # the second attempt sees the inside answer
                await sender.post(f"https://{name}/hook", b"{}", {})
    finally:
        await sender.aclose()

    print(
        f"\nSSRF, rebinding: {len(names)} names, {len(network.asked)} connections asked for, "
        f"{len(_inside(network))} of them inside"
    )
    assert network.asked == [(PUBLIC, 443)] * len(names)
    assert _inside(network) == []


class Redirector:
    """Answers every request with a redirect to wherever `?to=` says."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        location = scope["path"].removeprefix("/to/")
        await Response(status_code=302, headers={"location": location})(scope, receive, send)


async def test_a_redirect_to_an_inside_address_is_not_followed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    FakeDns().install(monkeypatch)
    locations = [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://10.0.0.1:8080/admin",
        "http://localhost/",
        "http://2130706433/",
        "http://metadata.google.internal/",
        "file:///etc/passwd",
        "http://[::ffff:127.0.0.1]/",
        "https://192.168.0.1/",
    ]
    async with serving_over_http(Redirector(), lifespan="off") as url:
        port = int(url.rsplit(":", 1)[1])
        network = SpyNetwork(routes={(PUBLIC, 80): port})
        sender = WebhookSender(EgressPolicy(allow_http=True), timeout=2, socket_factory=network)
        try:
            results = [
                await sender.post(f"http://redirector.example/to/{location}", b"{}", {})
                for location in locations
            ]
        finally:
            await sender.aclose()

    print(
        f"\nSSRF, redirects: {len(locations)} redirects inside, "
        f"{sum(r.succeeded for r in results)} followed, {len(_inside(network))} inside connections"
    )
    assert [r.status_code for r in results] == [302] * len(locations)
    assert not any(r.succeeded for r in results)
    assert _inside(network) == []
