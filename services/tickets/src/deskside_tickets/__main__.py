"""`deskside-tickets serve | migrate`."""

from deskside_kit.cli import run_service_cli
from deskside_tickets.config import TicketsSettings


def main() -> None:
    run_service_cli(
        settings_class=TicketsSettings,
        app_factory="deskside_tickets.app:create_app",
        migrations="deskside_tickets:migrations",
        default_port=8001,
    )


if __name__ == "__main__":
    main()
