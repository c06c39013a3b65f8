"""Settings: the environment first, clear failures, a shared development key."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deskside_kit.settings import SettingsError, load_or_create_secret, load_settings
from deskside_notify.config import NotifySettings
from deskside_tickets.config import TicketsSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DESKSIDE_"):
            monkeypatch.delenv(name)


class TestLoadSettings:
    def test_defaults_give_the_embedded_stack(self, monkeypatch: pytest.MonkeyPatch) -> None:
        settings = load_settings(TicketsSettings)

        assert settings.resolved_database_url == "sqlite+aiosqlite:///var/tickets.db"
        assert settings.should_migrate_on_start
        assert settings.reference_prefix == "SD"

    def test_the_service_prefix_and_the_global_names_apply(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DESKSIDE_TICKETS_REFERENCE_PREFIX", "HD")
        monkeypatch.setenv("DESKSIDE_TICKETS_DATABASE_URL", "postgresql+asyncpg://db/tickets")
        monkeypatch.setenv("DESKSIDE_JWT_AUDIENCE", "desk")
        monkeypatch.setenv("DESKSIDE_NOTIFY_DATABASE_URL", "sqlite+aiosqlite:///elsewhere.db")

        settings = load_settings(TicketsSettings)

        assert settings.reference_prefix == "HD"
        assert settings.resolved_database_url == "postgresql+asyncpg://db/tickets"
        assert settings.jwt_audience == "desk"

    def test_a_bad_value_names_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DESKSIDE_TICKETS_REFERENCE_PREFIX", "no good!")
        monkeypatch.setenv("DESKSIDE_LOG_LEVEL", "LOUD")

        with pytest.raises(SettingsError) as raised:
            load_settings(TicketsSettings)

        message = str(raised.value)
        assert "DESKSIDE_TICKETS_REFERENCE_PREFIX" in message
        assert "DESKSIDE_LOG_LEVEL" in message

    def test_production_names_every_unsafe_setting_at_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DESKSIDE_ENV", "production")
        monkeypatch.setenv("DESKSIDE_NOTIFY_WEBHOOK_ALLOW_PRIVATE", "true")

        with pytest.raises(SettingsError) as raised:
            load_settings(NotifySettings)

        message = str(raised.value)
        for variable in (
            "DESKSIDE_NOTIFY_DATABASE_URL must name a PostgreSQL database",
            "DESKSIDE_JWT_SECRET must be set in production",
            "DESKSIDE_SERVICE_TOKEN must be set in production",
            "DESKSIDE_NOTIFY_MAIL_TRANSPORT must be smtp",
            "DESKSIDE_NOTIFY_WEBHOOK_ALLOW_PRIVATE must be false",
        ):
            assert variable in message

    def test_production_starts_once_each_is_fixed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DESKSIDE_ENV", "production")
        monkeypatch.setenv("DESKSIDE_NOTIFY_DATABASE_URL", "postgresql+asyncpg://db/notify")
        monkeypatch.setenv("DESKSIDE_JWT_SECRET", "j" * 40)
        monkeypatch.setenv("DESKSIDE_SERVICE_TOKEN", "short")
        monkeypatch.setenv("DESKSIDE_NOTIFY_MAIL_TRANSPORT", "smtp")
        with pytest.raises(SettingsError, match="DESKSIDE_SERVICE_TOKEN must be set"):
            load_settings(NotifySettings)

        monkeypatch.setenv("DESKSIDE_SERVICE_TOKEN", "s" * 40)
        settings = load_settings(NotifySettings)
        assert not settings.should_migrate_on_start

    def test_secrets_can_come_from_files(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        (tmp_path / "DESKSIDE_JWT_SECRET").write_text("from-a-file-" + "f" * 30)
        (tmp_path / "DESKSIDE_TICKETS_DATABASE_URL").write_text("postgresql+asyncpg://db/t")
        monkeypatch.setenv("DESKSIDE_SECRETS_DIR", str(tmp_path))
        monkeypatch.setenv("DESKSIDE_TICKETS_DATABASE_URL", "postgresql+asyncpg://env/wins")

        settings = load_settings(TicketsSettings)

        assert settings.resolved_jwt_secret() == "from-a-file-" + "f" * 30
        assert settings.resolved_database_url == "postgresql+asyncpg://env/wins"

    def test_a_service_refuses_to_start_on_a_bad_setting(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "deskside_tickets", "serve", "--port", "1"],
            env={**os.environ, "DESKSIDE_TICKETS_MIGRATE_ON_START": "perhaps"},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            check=False,
        )

        assert result.returncode != 0
        assert "DESKSIDE_TICKETS_MIGRATE_ON_START" in result.stderr
        assert "Traceback" not in result.stderr


class TestDevelopmentSecret:
    def test_made_once_and_reused(self, tmp_path: Path) -> None:
        first = TicketsSettings(var_dir=tmp_path).resolved_jwt_secret()
        second = NotifySettings(var_dir=tmp_path).resolved_jwt_secret()

        assert first is not None
        assert len(first) >= 48
        assert first == second
        assert (tmp_path / "jwt-secret").stat().st_mode & 0o777 == 0o600

    def test_racing_processes_agree_on_one_key(self, tmp_path: Path) -> None:
        path = tmp_path / "jwt-secret"
        with ThreadPoolExecutor(max_workers=8) as pool:
            secrets = set(pool.map(lambda _: load_or_create_secret(path), range(32)))

        assert len(secrets) == 1
        assert [p.name for p in tmp_path.iterdir()] == ["jwt-secret"]

    def test_an_explicit_secret_wins(self, tmp_path: Path) -> None:
        settings = TicketsSettings(var_dir=tmp_path, jwt_secret="k" * 40)

        assert settings.resolved_jwt_secret() == "k" * 40
        assert not (tmp_path / "jwt-secret").exists()
