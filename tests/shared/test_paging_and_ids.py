"""Cursor encoding and time-ordered ids."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from deskside_kit.ids import new_id
from deskside_kit.paging import InvalidCursor, decode_cursor, encode_cursor


class TestCursors:
    def test_round_trip(self) -> None:
        moment = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)

        cursor = encode_cursor([moment, "tkt_1", 7])

        assert "=" not in cursor
        assert decode_cursor(cursor, 3) == [moment.isoformat(), "tkt_1", 7]

    @pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", encode_cursor(["a"]), "e30"])
    def test_foreign_cursors_are_refused(self, cursor: str) -> None:
        with pytest.raises(InvalidCursor):
            decode_cursor(cursor, 2)


class TestIds:
    def test_ids_are_prefixed_unique_and_time_ordered(self) -> None:
        ids = [new_id("tkt") for _ in range(2000)]

        assert len(set(ids)) == 2000
        assert all(i.startswith("tkt_") and len(i) == 30 for i in ids)

    def test_later_ids_sort_after_earlier_ones(self) -> None:
        earlier = new_id("tkt")
        time.sleep(0.002)
        later = new_id("tkt")

        assert earlier < later
