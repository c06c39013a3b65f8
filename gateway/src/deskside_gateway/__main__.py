"""`deskside-gateway serve`."""

from deskside_gateway.config import GatewaySettings
from deskside_kit.cli import run_service_cli


def main() -> None:
    run_service_cli(
        settings_class=GatewaySettings,
        app_factory="deskside_gateway.app:create_app",
        default_port=8080,
    )


if __name__ == "__main__":
    main()
