"""The `deskside` command's arguments, local commands and failures, with no stack running."""

from __future__ import annotations

import time
from pathlib import Path

import jwt

from tests.cli.conftest import invoke
from tests.support.servers import unused_url
from tests.support.tokens import TEST_JWT_SECRET

LOCAL = {"DESKSIDE_JWT_SECRET": TEST_JWT_SECRET, "DESKSIDE_JWT_JWKS_URL": None}


def claims_of(token: str) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(
        token, TEST_JWT_SECRET, algorithms=["HS256"], audience="deskside"
    )
    return decoded


class TestToken:
    def test_a_token_carries_the_roles_and_person_asked_for(self) -> None:
        result = invoke(
            "token", "--role", "agent", "--role", "admin", "--sub", "agnes",
            "--email", "agnes@example.com", "--tier", "2", env=LOCAL,
        )  # fmt: skip

        assert result.exit_code == 0, result.output
        claims = claims_of(result.stdout.strip())
        assert claims["sub"] == "agnes"
        assert claims["roles"] == ["agent", "admin"]
        assert claims["email"] == "agnes@example.com"
        assert claims["tier"] == 2
        assert claims["iss"] == "deskside"

    def test_a_requester_for_twelve_hours_by_default(self) -> None:
        result = invoke("token", env=LOCAL)

        claims = claims_of(result.stdout.strip())
        assert claims["roles"] == ["requester"]
        assert claims["sub"] == "dev-user"
        assert abs(int(str(claims["exp"])) - time.time() - 12 * 3600) < 60

    def test_ttl_takes_a_unit(self) -> None:
        result = invoke("token", "--ttl", "30m", env=LOCAL)

        claims = claims_of(result.stdout.strip())
        assert abs(int(str(claims["exp"])) - time.time() - 1800) < 60

    def test_a_lifetime_is_given_once(self) -> None:
        result = invoke("token", "--ttl", "30m", "--hours", "2", env=LOCAL)

        assert result.exit_code == 1
        assert result.stderr.strip() == "Give the lifetime once: --hours or --ttl."

    def test_a_ttl_without_a_unit_is_explained(self) -> None:
        result = invoke("token", "--ttl", "soon", env=LOCAL)

        assert result.exit_code == 1
        assert "write a number and a unit, like 30m, 12h or 7d" in result.stderr

    def test_an_unknown_role_is_a_usage_error(self) -> None:
        result = invoke("token", "--role", "wizard", env=LOCAL)

        assert result.exit_code == 2
        assert "wizard" in result.output


class TestMigrate:
    def test_every_service_is_migrated_once(self, tmp_path: Path) -> None:
        environment = {**LOCAL, "DESKSIDE_VAR_DIR": str(tmp_path), "DESKSIDE_ENV": "test"}
        for service in ("TICKETS", "INVENTORY", "NOTIFY"):
            environment[f"DESKSIDE_{service}_DATABASE_URL"] = None

        first = invoke("migrate", env=environment)
        again = invoke("migrate", "inventory", env=environment)

        assert first.exit_code == 0, first.output
        lines = first.stdout.splitlines()
        assert [line.split(":")[0] for line in lines] == ["tickets", "inventory", "notify"]
        assert all("an empty database →" in line for line in lines)
        assert {path.name for path in tmp_path.glob("*.db")} == {
            "tickets.db",
            "inventory.db",
            "notify.db",
        }
        assert again.exit_code == 0, again.output
        assert again.stdout.startswith("inventory: already at ")

    def test_a_database_that_does_not_answer(self, tmp_path: Path) -> None:
        port = unused_url().rsplit(":", 1)[1]
        url = f"postgresql+asyncpg://deskside:secret@127.0.0.1:{port}/tickets"

        result = invoke("migrate", "tickets", env={**LOCAL, "DESKSIDE_TICKETS_DATABASE_URL": url})

        assert result.exit_code == 1
        message = result.stderr.strip()
        assert message.startswith(
            f"Cannot migrate the tickets database at "
            f"postgresql+asyncpg://deskside:***@127.0.0.1:{port}/tickets: "
        )
        assert "secret" not in result.output
        assert "Traceback" not in result.output

    def test_an_unknown_service_is_named(self, tmp_path: Path) -> None:
        result = invoke("migrate", "billing", env={"DESKSIDE_VAR_DIR": str(tmp_path)})

        assert result.exit_code == 1
        assert result.stderr.strip() == (
            "No service called billing: choose from tickets, inventory, notify."
        )


class TestFailuresReadLikeSentences:
    def test_a_gateway_that_is_not_running(self) -> None:
        url = unused_url()

        result = invoke("report", "sla", "--url", url, "--token", "t")

        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f"Cannot reach Deskside at {url}: is it running? (make run)"
        )
        assert "Traceback" not in result.output

    def test_the_seed_without_a_gateway(self) -> None:
        url = unused_url()

        result = invoke("seed", "--url", url, env=LOCAL)

        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f"Cannot reach Deskside at {url}: is it running? (make run)"
        )

    def test_no_token(self) -> None:
        result = invoke("report", "productivity", "--url", unused_url())

        assert result.exit_code == 1
        assert result.stderr.startswith("No token: pass --token or set DESKSIDE_TOKEN")

    def test_a_date_that_is_not_one(self) -> None:
        result = invoke("report", "sla", "--from", "last tuesday", "--token", "t")

        assert result.exit_code == 2
        assert "is neither a date (2026-11-01) nor a moment" in result.output

    def test_from_after_to(self) -> None:
        result = invoke(
            "report", "sla", "--from", "2026-11-02", "--to", "2026-11-01", "--token", "t"
        )

        assert result.exit_code == 1
        assert result.stderr.strip() == "--from must be before --to."

    def test_an_unknown_output_format(self) -> None:
        result = invoke("report", "adoption", "--format", "xml", "--token", "t")

        assert result.exit_code == 2
        assert "xml" in result.output

    def test_a_catalog_file_of_unknown_kind(self, tmp_path: Path) -> None:
        result = invoke("catalog", "export", str(tmp_path / "catalog.txt"), "--token", "t")

        assert result.exit_code == 1
        assert "name it .yaml, .yml or .csv, or pass --format yaml|csv" in result.stderr

    def test_an_invalid_catalog_is_refused_before_anything_is_sent(self, tmp_path: Path) -> None:
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(
            "technologies:\n"
            "  - {key: ipad, kind: device_platform, name: iPad, category: tablet,"
            " support_tier: supported}\n"
            "  - {key: Dropbox, kind: service, name: Dropbox, category: file_sharing,"
            " support_tier: sometimes}\n"
            "  - {key: ipad, kind: device_platform, name: iPad again, category: tablet,"
            " support_tier: supported, colour: blue}\n"
        )

        # Nothing listens at the URL: the file is refused before any connection is tried.
        result = invoke("catalog", "import", str(catalog), "--url", unused_url(), "--token", "t")

        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert lines[0] == f"{catalog} is not a valid catalog; nothing was sent:"
        assert any(
            line.startswith("  technology 2 (Dropbox): key: String should") for line in lines
        )
        assert any(
            "technology 2 (Dropbox): support_tier: Input should be" in line for line in lines
        )
        assert "  technology 3 (ipad): colour: Extra inputs are not permitted" in lines

    def test_a_missing_catalog_file(self, tmp_path: Path) -> None:
        result = invoke("catalog", "import", str(tmp_path / "nope.csv"), "--token", "t")

        assert result.exit_code == 1
        assert result.stderr.strip() == f"There is no file {tmp_path / 'nope.csv'}."
