"""A server process freezes what start-up built (`deskside_kit.heap`); a test process does not."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from deskside_kit import heap
from tests.support.apps import serving


@pytest.fixture
def as_server() -> Iterator[None]:
    """This process as `serve` makes it, and back to a test process afterwards."""
    gc.unfreeze()
    heap.freeze_after_start_up()
    try:
        yield
    finally:
        heap._freezing = False
        gc.unfreeze()  # the objects go back to the generations they were collected in


@pytest.mark.usefixtures("as_server")
async def test_a_server_freezes_what_its_start_up_built(service_app: FastAPI) -> None:
    assert gc.get_freeze_count() == 0

    async with serving(service_app) as client:
        assert gc.get_freeze_count() > 0
        # Frozen objects still work; only the collector skips them.
        assert (await client.get("/healthz")).status_code == 200


async def test_an_app_started_outside_serve_freezes_nothing(service_app: FastAPI) -> None:
    gc.unfreeze()

    async with serving(service_app) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert gc.get_freeze_count() == 0
