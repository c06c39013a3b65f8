"""The event catalog in docs/integrations.md is generated from the contracts and kept current."""

from __future__ import annotations

from pathlib import Path

from deskside_client import catalog
from deskside_contracts.events import Event
from deskside_contracts.notify import EVENT_TYPES, TEST_EVENT_TYPE

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def test_every_event_type_has_an_example_that_is_an_event() -> None:
    examples = catalog.example_events()
    assert list(examples) == [*EVENT_TYPES, TEST_EVENT_TYPE]
    for name, event in examples.items():
        assert isinstance(event, Event)
        assert event.type == name
        assert Event.model_validate_json(event.model_dump_json()) == event


def test_the_documented_catalog_is_up_to_date() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    assert catalog.updated_document(text) == text, (
        "docs/integrations.md: the event catalog is out of date; "
        "run `python -m deskside_client.catalog`"
    )
    for name in catalog.event_types():
        assert f"#### `{name}`" in text


def test_check_mode_reports_a_stale_catalog(tmp_path: Path) -> None:
    stale = tmp_path / "integrations.md"
    stale.write_text(f"# Doc\n\n{catalog.BEGIN}\nold\n{catalog.END}\n", encoding="utf-8")
    assert catalog.main([str(stale), "--check"]) == 1
    assert catalog.main([str(stale)]) == 0
    assert catalog.main([str(stale), "--check"]) == 0
    assert stale.read_text(encoding="utf-8").startswith("# Doc\n\n")
