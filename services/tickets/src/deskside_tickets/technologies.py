"""What tickets asks inventory about a ticket's technology, with a short timeout.

An employee must never be turned away because inventory is down: a lookup
that fails says so (`None`) and the ticket is created with its enrichment
pending. Answers are cached briefly, and after a failure inventory is left
alone for a while, so an outage does not make every create wait out the
timeout.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx

from deskside_contracts.inventory import TechnologyRead
from deskside_contracts.tickets import TechnologySnapshot
from deskside_kit.auth import SERVICE_TOKEN_HEADER
from deskside_kit.context import REQUEST_ID_HEADER, current_request_id

logger = logging.getLogger("deskside.tickets.technologies")

CACHE_SECONDS = 60.0
BACKOFF_SECONDS = 15.0


@dataclass(frozen=True)
class Lookup:
    """A catalog answer: the snapshot, or None when inventory has no such key."""

    snapshot: TechnologySnapshot | None


class TechnologyDirectory:
    def __init__(self, client: httpx.AsyncClient, *, service_token: str | None) -> None:
        self.client = client
        self.service_token = service_token
        self._cache: dict[str, tuple[float, Lookup]] = {}
        self._unavailable_until = 0.0

    async def look_up(self, key: str) -> Lookup | None:
        """The catalog's answer for `key`, or None when inventory could not answer now."""
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        if now < self._unavailable_until or self.service_token is None:
            return None
        headers = {SERVICE_TOKEN_HEADER: self.service_token}
        request_id = current_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        try:
            response = await self.client.get(f"/v1/technologies/{key}", headers=headers)
        except httpx.HTTPError as exc:
            self._unavailable(key, repr(exc))
            return None
        if response.status_code == 404:
            lookup = Lookup(snapshot=None)
        elif response.status_code == 200:
            try:
                technology = TechnologyRead.model_validate_json(response.content)
            except ValueError as exc:
                self._unavailable(key, f"unreadable answer: {exc}")
                return None
            lookup = Lookup(snapshot=snapshot_of(technology))
        else:
            self._unavailable(key, f"status {response.status_code}")
            return None
        self._cache[key] = (now, lookup)
        return lookup

    def _unavailable(self, key: str, why: str) -> None:
        logger.warning("inventory did not answer for technology %r: %s", key, why)
        self._unavailable_until = time.monotonic() + BACKOFF_SECONDS
        return None


def snapshot_of(technology: TechnologyRead) -> TechnologySnapshot:
    return TechnologySnapshot(
        key=technology.key,
        name=technology.name,
        vendor=technology.vendor,
        support_tier=technology.support_tier,
        guide=technology.guide,
    )
