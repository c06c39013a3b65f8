"""Catalog files (YAML, CSV) and what importing one would change: no server needed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deskside_cli.catalog import (
    FIELDS,
    CatalogFormat,
    dump_catalog,
    entry_from_read,
    format_for,
    load_catalog,
    plan_import,
)
from deskside_cli.errors import CliError
from deskside_contracts.inventory import TechnologyCreate, TechnologyRead

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def make_entry(key: str = "dropbox", **fields: Any) -> TechnologyCreate:
    values: dict[str, Any] = {
        "key": key,
        "kind": "service",
        "name": key.title(),
        "category": "file_sharing",
        "support_tier": "best_effort",
    }
    return TechnologyCreate.model_validate(values | fields)


def make_read(entry: TechnologyCreate, version: int = 1) -> TechnologyRead:
    return TechnologyRead.model_validate(
        entry.model_dump() | {"version": version, "created_at": NOW, "updated_at": NOW}
    )


def with_fields(entry: TechnologyCreate, **fields: Any) -> TechnologyCreate:
    return TechnologyCreate.model_validate(entry.model_dump() | fields)


FULL = make_entry(
    "dropbox",
    vendor="Dropbox",
    recommended_alternative="onedrive",
    guide="Keep company files in OneDrive.\n\nShare with customers from Dropbox:\n- a link",
    links=[{"title": "Help, the centre", "url": "https://help.dropbox.com/"}],
    vendor_support={"url": "https://www.dropbox.com/support", "contract_ref": "DBX-17"},
    app_identifiers=["com.getdropbox.Dropbox", "com.dropbox.android"],
)
PLAIN = make_entry("ipados", kind="device_platform", category="tablet", recommended=True)


class TestFiles:
    def test_every_field_of_a_technology_has_its_place(self) -> None:
        assert set(FIELDS) == set(TechnologyCreate.model_fields)

    @pytest.mark.parametrize("catalog_format", list(CatalogFormat))
    def test_a_catalog_reads_back_as_written(
        self, tmp_path: Path, catalog_format: CatalogFormat
    ) -> None:
        path = tmp_path / f"catalog.{catalog_format.value}"
        path.write_text(dump_catalog([FULL, PLAIN], catalog_format))

        assert load_catalog(path, catalog_format) == [FULL, PLAIN]

    def test_yaml_shows_only_what_was_decided_and_guides_as_blocks(self) -> None:
        text = dump_catalog([PLAIN, FULL], CatalogFormat.YAML)

        assert text.startswith("# The Deskside technology catalog.")
        # Sorted by key; unset fields left out; the guide as a block of markdown.
        assert text.index("key: dropbox") < text.index("key: ipados")
        assert "  guide: |-\n    Keep company files in OneDrive.\n\n    Share with" in text
        ipados = text[text.index("key: ipados") :]
        assert "vendor" not in ipados
        assert "links" not in ipados

    def test_csv_spreads_vendor_support_and_joins_identifiers(self) -> None:
        header, dropbox, _ = dump_catalog([FULL, PLAIN], CatalogFormat.CSV).split("\n", 2)

        assert header.split(",")[:6] == [
            "key",
            "kind",
            "name",
            "category",
            "vendor",
            "support_tier",
        ]
        assert "vendor_support.contract_ref" in header
        assert "com.getdropbox.Dropbox; com.dropbox.android" in dropbox
        assert "DBX-17" in dropbox

    def test_a_bare_list_of_technologies_is_a_catalog_too(self, tmp_path: Path) -> None:
        path = tmp_path / "catalog.yml"
        path.write_text(
            "- {key: zoom, kind: service, name: Zoom, category: video, support_tier: supported}\n"
        )

        (entry,) = load_catalog(path, format_for(path, None))

        assert entry.key == "zoom"

    def test_csv_problems_name_their_line(self, tmp_path: Path) -> None:
        path = tmp_path / "catalog.csv"
        path.write_text(
            "key,kind,name,category,support_tier,recommended\n"
            "zoom,service,Zoom,video,supported,perhaps\n"
        )

        with pytest.raises(CliError) as refused:
            load_catalog(path, CatalogFormat.CSV)

        assert str(refused.value) == (
            f"{path}, line 2: recommended should be true or false, not 'perhaps'."
        )

    def test_an_unknown_csv_column_is_named(self, tmp_path: Path) -> None:
        path = tmp_path / "catalog.csv"
        path.write_text("key,colour\nzoom,blue\n")

        with pytest.raises(CliError, match="unknown column\\(s\\) colour"):
            load_catalog(path, CatalogFormat.CSV)

    def test_format_by_flag_wins_over_the_extension(self) -> None:
        assert format_for(Path("c.txt"), CatalogFormat.CSV) is CatalogFormat.CSV
        assert format_for(Path("c.YAML"), None) is CatalogFormat.YAML


class TestPlan:
    def test_new_changed_same_and_absent_technologies(self) -> None:
        current = [make_read(FULL), make_read(PLAIN), make_read(make_entry("slack"))]
        changed = with_fields(FULL, support_tier="unsupported", vendor=None)
        new = make_entry("wetransfer")

        plan = plan_import([changed, PLAIN, new], current)

        assert plan.create == [new]
        (update,) = plan.update
        assert update.current.key == "dropbox"
        assert update.changes == {"vendor": None, "support_tier": "unsupported"}
        assert plan.unchanged == ["ipados"]
        assert plan.untouched == ["slack"]

    def test_an_empty_vendor_support_is_no_vendor_support(self) -> None:
        stored = make_read(make_entry("zoom", vendor_support={}))

        plan = plan_import([make_entry("zoom")], [stored])

        assert plan.unchanged == ["zoom"]

    def test_a_read_technology_becomes_its_file_entry(self) -> None:
        assert entry_from_read(make_read(FULL, version=7)) == FULL

    def test_a_kind_cannot_change(self) -> None:
        current = [make_read(PLAIN)]
        as_service = with_fields(PLAIN, kind="service")

        with pytest.raises(CliError, match="ipados: its kind is device_platform in Deskside"):
            plan_import([as_service], current)
