"""`deskside-inventory serve | migrate`."""

from deskside_inventory.config import InventorySettings
from deskside_kit.cli import run_service_cli


def main() -> None:
    run_service_cli(
        settings_class=InventorySettings,
        app_factory="deskside_inventory.app:create_app",
        migrations="deskside_inventory:migrations",
        default_port=8002,
    )


if __name__ == "__main__":
    main()
