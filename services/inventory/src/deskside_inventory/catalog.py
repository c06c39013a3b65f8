"""The starter catalog: common platforms and consumer services with sensible tiers.

`deskside-inventory load-catalog` adds its entries to the catalog (entries
already there are left as they are), and the embedded default loads it on
first start so a new stack is not empty.
"""

from __future__ import annotations

import json
from importlib.resources import files

from deskside_contracts.inventory import TechnologyCreate
from deskside_inventory.repository import TechnologyRepository
from deskside_inventory.service import CatalogService

STARTER_CATALOG = "data/starter_catalog.json"


def starter_catalog() -> list[TechnologyCreate]:
    raw = json.loads((files("deskside_inventory") / STARTER_CATALOG).read_text(encoding="utf-8"))
    return [TechnologyCreate.model_validate(entry) for entry in raw["technologies"]]


async def load_starter_catalog(repository: TechnologyRepository) -> int:
    """Add the starter entries the catalog lacks; returns how many were added."""
    present = await repository.keys()
    entries = [entry for entry in starter_catalog() if entry.key not in present]
    # Alternatives point at other entries: add everything first, then check them.
    service = CatalogService(repository)
    for entry in sorted(entries, key=lambda e: e.recommended_alternative is not None):
        await service.create_technology(entry)
    return len(entries)
