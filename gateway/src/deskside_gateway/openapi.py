"""One OpenAPI document for the whole public API, merged from the services' own.

Each service documents itself; the gateway fetches the three documents, keeps
the paths it routes to that service (never a service's own /healthz or
/internal), and merges the schemas. Two services may name different schemas
alike; the later one is then renamed `<Service><Name>` and its references
rewritten, while identical schemas are shared. The result is cached briefly:
the services change only when they are redeployed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from deskside_gateway.routing import route_for

logger = logging.getLogger("deskside.gateway")

CACHE_SECONDS = 30.0
_SCHEMA_REF = "#/components/schemas/"

Document = dict[str, Any]
FetchDocument = Callable[[str], Awaitable[Document]]


def merge_documents(documents: dict[str, Document], missing: list[str]) -> Document:
    """Merge the services' documents (by service name) into the public one."""
    description = "The Deskside service-desk API: tickets, inventory and notifications."
    if missing:
        description += (
            f"\n\n**Incomplete:** {', '.join(missing)} did not answer; "
            "its paths are missing from this document."
        )
    merged: Document = {
        "openapi": "3.1.0",
        "info": {"title": "Deskside API", "version": "1", "description": description},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
        "tags": [],
    }
    schemas: dict[str, Any] = merged["components"]["schemas"]
    for service, document in documents.items():
        components = document.get("components", {})
        own_schemas: dict[str, Any] = components.get("schemas", {})
        renames = {
            name: f"{service.capitalize()}{name}"
            for name, schema in own_schemas.items()
            if name in schemas and schemas[name] != schema
        }
        document = _rename_refs(document, renames)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(renames.get(name, name), schema)
        merged["components"]["securitySchemes"].update(components.get("securitySchemes", {}))
        for path, item in document.get("paths", {}).items():
            route = route_for(path)
            if route is not None and route[1] == service:
                merged["paths"][path] = item
        known_tags = {tag["name"] for tag in merged["tags"]}
        merged["tags"] += [tag for tag in document.get("tags", []) if tag["name"] not in known_tags]
    if missing:
        merged["x-deskside-missing-services"] = missing
    return merged


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if not renames:
        return node
    if isinstance(node, dict):
        renamed = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_SCHEMA_REF):
                name = value.removeprefix(_SCHEMA_REF)
                value = _SCHEMA_REF + renames.get(name, name)
            renamed[key] = _rename_refs(value, renames)
        return renamed
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


class MergedOpenApi:
    """The merged document, fetched at most once per CACHE_SECONDS."""

    def __init__(self, services: list[str], fetch: FetchDocument) -> None:
        self.services = services
        self.fetch = fetch
        self._document: Document | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def document(self) -> Document:
        async with self._lock:
            if self._document is None or time.monotonic() - self._fetched_at > CACHE_SECONDS:
                self._document, complete = await self._build()
                # An incomplete document is served but not kept: the next
                # request tries the missing service again.
                self._fetched_at = time.monotonic() if complete else 0.0
            return self._document

    async def _build(self) -> tuple[Document, bool]:
        results = await asyncio.gather(
            *(self.fetch(service) for service in self.services), return_exceptions=True
        )
        documents: dict[str, Document] = {}
        missing: list[str] = []
        for service, result in zip(self.services, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("no OpenAPI document from %s: %r", service, result)
                missing.append(service)
            else:
                documents[service] = result
        return merge_documents(documents, missing), not missing
