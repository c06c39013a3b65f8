"""`deskside-inventory serve | migrate | load-catalog`."""

from deskside_inventory.catalog import load_starter_catalog
from deskside_inventory.config import InventorySettings
from deskside_inventory.repository import TechnologyRepository
from deskside_kit.cli import run_service_cli
from deskside_kit.database import Sessions, create_engine, migrate


async def _load_catalog(settings: InventorySettings) -> str:
    engine = create_engine(settings.resolved_database_url)
    try:
        if settings.should_migrate_on_start:
            await migrate(engine, "deskside_inventory:migrations")
        async with Sessions.for_engine(engine).write_transaction() as session:
            added = await load_starter_catalog(TechnologyRepository(session))
    finally:
        await engine.dispose()
    return f"Added {added} technologies from the starter catalog."


def main() -> None:
    run_service_cli(
        commands={
            "load-catalog": (
                "add the starter catalog's technologies that the catalog lacks",
                _load_catalog,
            )
        },
        settings_class=InventorySettings,
        app_factory="deskside_inventory.app:create_app",
        migrations="deskside_inventory:migrations",
        default_port=8002,
    )


if __name__ == "__main__":
    main()
