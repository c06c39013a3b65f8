"""`deskside-notify serve | migrate`."""

from deskside_kit.cli import run_service_cli
from deskside_notify.config import NotifySettings


def main() -> None:
    run_service_cli(
        settings_class=NotifySettings,
        app_factory="deskside_notify.app:create_app",
        migrations="deskside_notify:migrations",
        default_port=8003,
    )


if __name__ == "__main__":
    main()
