"""The `deskside` command against a real stack: four processes on SQLite, one for the module.

The stack is seeded once with `deskside seed`; the catalog goes out and back
in as YAML and as CSV; reports print as tables, JSON and CSV and draw PNGs;
a webhook test reaches a real receiver that verifies its signature.
"""

from __future__ import annotations

import csv
import io
import json
import struct
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import Result

from deskside_client import DesksideClient
from deskside_kit.devstack import GATEWAY, SERVICES, Stack
from deskside_kit.tokens import mint_token
from tests.cli.conftest import invoke, invoke_async
from tests.support.receivers import WebhookReceiver, webhook_receiver
from tests.support.servers import free_ports, port_is_free
from tests.support.tokens import TEST_JWT_SECRET

SEEDED_TICKETS = 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def token(sub: str, *roles: str) -> str:
    return mint_token(TEST_JWT_SECRET, sub=sub, roles=list(roles), email=f"{sub}@example.com")


ADMIN = token("root", "admin")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("cli-stack")
    ports = dict(zip([p.name for p in (*SERVICES, GATEWAY)], free_ports(4), strict=True))
    environment = {
        "DESKSIDE_ENV": "test",
        "DESKSIDE_VAR_DIR": str(folder / "var"),
        "DESKSIDE_JWT_SECRET": TEST_JWT_SECRET,
        "DESKSIDE_GATEWAY_RATE_LIMIT_BURST": "100000",
        "DESKSIDE_INVENTORY_LOAD_STARTER_CATALOG": "true",
        "DESKSIDE_NOTIFY_WEBHOOK_ALLOW_HTTP": "true",
        "DESKSIDE_NOTIFY_WEBHOOK_ALLOW_PRIVATE": "true",
        "DESKSIDE_NOTIFY_DELIVERY_INTERVAL": "0.1",
    }
    running = Stack(ports=ports, env=environment, log_dir=folder / "logs")
    running.start()
    try:
        yield running
    finally:
        running.stop()
        assert all(port_is_free(port) for port in ports.values()), "a process still holds a port"


@pytest.fixture(scope="module")
def as_admin(stack: Stack) -> dict[str, str]:
    """The command's environment: this stack's gateway, an admin's token, the stack's key."""
    return {
        "DESKSIDE_URL": stack.gateway_url,
        "DESKSIDE_TOKEN": ADMIN,
        "DESKSIDE_JWT_SECRET": TEST_JWT_SECRET,
        "DESKSIDE_ENV": "test",
        "DESKSIDE_VAR_DIR": stack.env["DESKSIDE_VAR_DIR"],
    }


@pytest.fixture(scope="module")
def seed_result(as_admin: dict[str, str]) -> Result:
    return invoke("seed", "--tickets", str(SEEDED_TICKETS), env=as_admin)


@pytest.fixture(scope="module")
def seeded(stack: Stack, as_admin: dict[str, str], seed_result: Result) -> dict[str, str]:
    """The demo desk, plus one ticket for someone who cannot work: hours lost to report."""
    assert seed_result.exit_code == 0, seed_result.output
    stopped = httpx.post(
        f"{stack.gateway_url}/v1/tickets",
        json={"title": "Dropbox lost my files", "technology": "dropbox", "work_stopped": True},
        headers={"Authorization": f"Bearer {token('zoe', 'requester')}"},
        timeout=10,
    )
    assert stopped.status_code == 201, stopped.text
    return as_admin


def test_seed_shows_its_progress(seeded: dict[str, str], seed_result: Result) -> None:
    result = invoke("report", "sla", "--format", "json", env=seeded)

    assert seed_result.stdout.startswith(f"Seeded {SEEDED_TICKETS} tickets and the estate of ")
    assert "Tickets" in seed_result.stderr
    assert f"{SEEDED_TICKETS}/{SEEDED_TICKETS}" in seed_result.stderr

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["tickets"] == SEEDED_TICKETS + 1


class TestCatalog:
    def test_yaml_out_edited_and_back_in(self, as_admin: dict[str, str], tmp_path: Path) -> None:
        path = tmp_path / "catalog.yaml"
        exported = invoke("catalog", "export", str(path), env=as_admin)
        assert exported.exit_code == 0, exported.output
        original = path.read_text()

        same = invoke("catalog", "import", str(path), env=as_admin)
        assert same.exit_code == 0, same.output
        count = len(yaml.safe_load(original)["technologies"])
        assert f"0 created, 0 updated, {count} unchanged." in same.stdout

        document = yaml.safe_load(original)
        technologies: list[dict[str, Any]] = document["technologies"]
        dropbox = next(item for item in technologies if item["key"] == "dropbox")
        dropbox["support_tier"] = "unsupported"
        dropbox["guide"] = "Use OneDrive for company files.\n\nDropbox only for customers."
        vendored = next(
            item for item in technologies if item.get("vendor") and item["key"] != "dropbox"
        )
        del vendored["vendor"]
        # A new technology whose alternative is new too: created, then pointed at it.
        technologies += [
            {
                "key": "acme-share",
                "kind": "service",
                "name": "Acme Share",
                "category": "file_sharing",
                "support_tier": "prohibited",
                "recommended_alternative": "acme-vault",
            },
            {
                "key": "acme-vault",
                "kind": "service",
                "name": "Acme Vault",
                "category": "file_sharing",
                "support_tier": "supported",
                "recommended": True,
            },
        ]
        path.write_text(yaml.safe_dump(document, sort_keys=False))

        dry = invoke("catalog", "import", str(path), "--dry-run", env=as_admin)
        assert dry.exit_code == 0, dry.output
        assert "2 would be created, 2 would be updated" in dry.stdout
        assert "Nothing was sent (--dry-run)." in dry.stdout
        assert invoke("catalog", "export", env=as_admin).stdout == original

        applied = invoke("catalog", "import", str(path), env=as_admin)
        assert applied.exit_code == 0, applied.output
        assert f"2 created, 2 updated, {count - 2} unchanged." in applied.stdout
        assert "support_tier" in applied.stdout

        again = invoke("catalog", "export", env=as_admin)
        reexported = yaml.safe_load(again.stdout)["technologies"]
        by_key = {item["key"]: item for item in reexported}
        assert by_key["dropbox"]["support_tier"] == "unsupported"
        assert by_key["dropbox"]["guide"].endswith("Dropbox only for customers.")
        assert "vendor" not in by_key[vendored["key"]]
        assert by_key["acme-share"]["recommended_alternative"] == "acme-vault"
        assert by_key["acme-vault"]["recommended"] is True
        assert "guide: |-" in again.stdout

        unchanged = invoke("catalog", "import", str(path), env=as_admin)
        assert f"0 created, 0 updated, {count + 2} unchanged." in unchanged.stdout

    def test_csv_out_edited_and_back_in(self, as_admin: dict[str, str], tmp_path: Path) -> None:
        path = tmp_path / "catalog.csv"
        exported = invoke("catalog", "export", str(path), env=as_admin)
        assert exported.exit_code == 0, exported.output
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        assert invoke("catalog", "import", str(path), env=as_admin).exit_code == 0

        zoom = next(row for row in rows if row["key"] == "zoom")
        zoom["app_identifiers"] = "us.zoom.videomeetings; us.zoom.xos"
        zoom["vendor_support.contract_ref"] = "ZM-2026"
        rows.append({**zoom, "key": "zoom-rooms", "name": "Zoom Rooms", "guide": ""})
        with path.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

        applied = invoke("catalog", "import", str(path), env=as_admin)
        assert applied.exit_code == 0, applied.output
        assert f"1 created, 1 updated, {len(rows) - 2} unchanged." in applied.stdout

        again = invoke("catalog", "export", "--format", "csv", env=as_admin)
        by_key = {row["key"]: row for row in csv.DictReader(io.StringIO(again.stdout))}
        assert by_key["zoom"]["app_identifiers"] == "us.zoom.videomeetings; us.zoom.xos"
        assert by_key["zoom"]["vendor_support.contract_ref"] == "ZM-2026"
        assert by_key["zoom-rooms"]["name"] == "Zoom Rooms"

    def test_a_requester_may_read_but_not_change_it(
        self, as_admin: dict[str, str], tmp_path: Path
    ) -> None:
        path = tmp_path / "catalog.yaml"
        path.write_text(
            "technologies:\n- {key: nope, kind: service, name: Nope, category: notes,"
            " support_tier: supported}\n"
        )
        requester = {**as_admin, "DESKSIDE_TOKEN": token("alice", "requester")}

        result = invoke("catalog", "import", str(path), env=requester)

        assert result.exit_code == 1
        assert "0 created, 0 updated" in result.stdout
        assert "nope failed: Forbidden" in result.stderr


class TestReports:
    @pytest.mark.parametrize(
        ("report", "titles"),
        [
            ("productivity", ["Hours lost by technology", "Hours lost by support tier"]),
            ("sla", ["Week by week", "Tickets by status"]),
            ("adoption", ["By technology", "By support tier", "Device compliance"]),
        ],
    )
    def test_tables(self, seeded: dict[str, str], report: str, titles: list[str]) -> None:
        result = invoke("report", report, env=seeded)

        assert result.exit_code == 0, result.output
        for title in titles:
            assert title in result.stdout

    def test_productivity_as_json_and_csv(self, seeded: dict[str, str]) -> None:
        as_json = json.loads(invoke("report", "productivity", "-f", "json", env=seeded).stdout)
        as_csv = list(
            csv.DictReader(
                io.StringIO(invoke("report", "productivity", "-f", "csv", env=seeded).stdout)
            )
        )

        # Only tickets where someone could not work count here.
        assert 1 <= as_json["tickets"] <= SEEDED_TICKETS + 1
        assert "dropbox" in {row["key"] for row in as_json["by_technology"]}
        assert {row["by"] for row in as_csv} <= {"technology", "vendor", "support_tier"}
        assert len(as_csv) == sum(
            len(as_json[by]) for by in ("by_technology", "by_vendor", "by_support_tier")
        )

    def test_sla_week_by_week(self, seeded: dict[str, str]) -> None:
        start = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()
        as_json = json.loads(
            invoke("report", "sla", "--from", start, "-f", "json", env=seeded).stdout
        )
        as_csv = invoke("report", "sla", "--from", start, "-f", "csv", env=seeded).stdout

        weeks = as_json["weeks"]
        assert len(weeks) == 3
        assert sum(week["tickets"] for week in weeks) == as_json["summary"]["tickets"]
        assert as_json["summary"]["tickets"] == SEEDED_TICKETS + 1
        assert weeks[0]["from"].startswith(f"{start}T00:00:00")
        rows = list(csv.DictReader(io.StringIO(as_csv)))
        assert list(rows[0]) == [
            "from",
            "to",
            "tickets",
            "sla_compliance_percent",
            "median_first_response_minutes",
            "median_resolution_minutes",
        ]
        assert len(rows) == len(weeks)

    def test_adoption_as_csv_for_a_department(self, seeded: dict[str, str]) -> None:
        everyone = invoke("report", "adoption", "-f", "csv", env=seeded).stdout
        sales = invoke("report", "adoption", "-f", "csv", "--department", "sales", env=seeded)

        assert sales.exit_code == 0, sales.output
        assert everyone.startswith("technology,name,category,support_tier,recommended,devices,")
        assert ",true," in everyone or ",false," in everyone

    @pytest.mark.parametrize("report", ["productivity", "sla", "adoption"])
    def test_charts(self, seeded: dict[str, str], tmp_path: Path, report: str) -> None:
        chart = tmp_path / f"{report}.png"

        result = invoke("report", report, "-f", "json", "--chart", str(chart), env=seeded)

        assert result.exit_code == 0, result.output
        json.loads(result.stdout)  # the note about the chart went to stderr
        assert f"written to {chart}" in result.stderr
        data = chart.read_bytes()
        assert data[:8] == PNG_SIGNATURE
        assert data[12:16] == b"IHDR"
        width, height = struct.unpack(">II", data[16:24])
        assert width == 1080
        assert height >= 360
        assert len(data) > 10_000

    def test_a_requester_is_told_no(self, seeded: dict[str, str]) -> None:
        requester = {**seeded, "DESKSIDE_TOKEN": token("alice", "requester")}

        result = invoke("report", "sla", env=requester)

        assert result.exit_code == 1
        assert result.stderr.startswith("Forbidden")
        assert "Traceback" not in result.output


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as endpoint:
        yield endpoint


class TestWebhooks:
    async def subscribe(self, stack: Stack, receiver: WebhookReceiver) -> str:
        async with DesksideClient(stack.gateway_url, ADMIN) as client:
            created = await client.webhooks.create(url=receiver.url, event_types=["ticket.closed"])
        receiver.secret = created.secret
        return created.id

    async def test_a_test_event_reaches_the_endpoint(
        self, stack: Stack, as_admin: dict[str, str], receiver: WebhookReceiver
    ) -> None:
        webhook_id = await self.subscribe(stack, receiver)
        before = len(receiver.received)

        result = await invoke_async("webhooks", "test", webhook_id, env=as_admin)

        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(
            f"Delivered a webhook.test event to {receiver.url}: it answered 200 in "
        )
        delivery = receiver.received[before]
        assert delivery.verified
        assert delivery.event["type"] == "webhook.test"

    async def test_an_endpoint_that_fails_is_reported(
        self, stack: Stack, as_admin: dict[str, str], receiver: WebhookReceiver
    ) -> None:
        webhook_id = await self.subscribe(stack, receiver)
        receiver.script = [500]

        result = await invoke_async("webhooks", "test", webhook_id, env=as_admin)

        assert result.exit_code == 1
        assert result.stderr.startswith(
            f"The test event to {receiver.url} did not get through: it answered HTTP 500 (nope)."
        )
        assert "Deskside tries again at" in result.stderr

    async def test_an_unknown_subscription(self, as_admin: dict[str, str]) -> None:
        result = await invoke_async("webhooks", "test", "wh_nothing", env=as_admin)

        assert result.exit_code == 1
        assert result.stderr.startswith("Not found")
        assert "Traceback" not in result.output


def test_a_service_that_is_down_is_named_by_the_gateway(
    stack: Stack, as_admin: dict[str, str]
) -> None:
    # Last in the module: notify is started again, but the stack's other tests need not wait.
    stack.stop_part("notify")
    try:
        result = invoke("webhooks", "test", "wh_anything", env=as_admin)
    finally:
        stack.start_part("notify")

    assert result.exit_code == 1
    assert result.stderr.strip() == "Bad Gateway: The notify service is not reachable."
