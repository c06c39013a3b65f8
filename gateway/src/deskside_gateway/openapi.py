"""One OpenAPI document for the whole public API, merged from the services' own.

Each service documents itself; the gateway fetches the three documents, keeps
the paths it routes to that service (never a service's own /healthz or
/internal), adds its own (its /healthz, /readyz and /metrics), and merges the
schemas. Two services may name different schemas alike; the later one is then
renamed `<Service><Name>` and its references rewritten, while identical
schemas are shared. Operation ids are unique by construction (each route names
its own); should two services still share one, the later is renamed
`<id><Service>` so that client generators keep working. Every operation also
declares what the gateway itself may answer: 429 when rate limited, and for
proxied ones 502 and 504 when the service is down or slow. The result is cached
briefly: the services change only when they are redeployed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from deskside_gateway.routing import route_for
from deskside_kit.problems import problem_content
from deskside_kit.tags import tag_order

logger = logging.getLogger("deskside.gateway")

CACHE_SECONDS = 30.0
_SCHEMA_REF = "#/components/schemas/"
# The key of the gateway's own document among the services' documents.
GATEWAY = "gateway"
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

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
            if _answers(service, path):
                merged["paths"][path] = _with_gateway_errors(service, item)
        known_tags = {tag["name"] for tag in merged["tags"]}
        merged["tags"] += [tag for tag in document.get("tags", []) if tag["name"] not in known_tags]
    # Only the tags of the paths kept (a service's `Internal` stays with it), in one order.
    used = {
        tag
        for item in merged["paths"].values()
        for method in _METHODS & item.keys()
        for tag in item[method].get("tags", [])
    }
    merged["tags"] = sorted(
        (tag for tag in merged["tags"] if tag["name"] in used),
        key=lambda tag: tag_order(tag["name"]),
    )
    _unique_operation_ids(merged["paths"])
    if missing:
        merged["x-deskside-missing-services"] = missing
    return merged


def _answers(service: str, path: str) -> bool:
    """Whether `service` answers `path` through the gateway (GATEWAY: the gateway itself)."""
    route = route_for(path)
    if route is None:
        return service == GATEWAY and not path.startswith("/internal")
    return route[1] == service


def _with_gateway_errors(service: str, item: dict[str, Any]) -> dict[str, Any]:
    """A copy of a path item whose operations also declare what the gateway may answer."""
    item = dict(item)
    for method in _METHODS & item.keys():
        operation = item[method] = dict(item[method])
        responses = operation["responses"] = dict(operation.get("responses", {}))
        responses.setdefault(
            "429",
            {"description": "Too many requests: see `Retry-After`", "content": problem_content()},
        )
        if service != GATEWAY:
            responses.setdefault(
                "502", {"description": "The service is not reachable", "content": problem_content()}
            )
            responses.setdefault(
                "504",
                {"description": "The service did not answer in time", "content": problem_content()},
            )
    return item


def _unique_operation_ids(paths: dict[str, Any]) -> None:
    seen: set[str] = set()
    for path, item in paths.items():
        for method, operation in item.items():
            operation_id = operation.get("operationId") if method in _METHODS else None
            if operation_id is None:
                continue
            if operation_id in seen:
                service = route_for(path)
                suffix = (service[1] if service else GATEWAY).capitalize()
                logger.warning("operationId %s is not unique: %s %s", operation_id, method, path)
                operation_id = operation["operationId"] = operation_id + suffix
            seen.add(operation_id)


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

    def __init__(
        self,
        services: list[str],
        fetch: FetchDocument,
        own: Callable[[], Document] | None = None,
    ) -> None:
        self.services = services
        self.fetch = fetch
        self.own = own
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
        if self.own is not None:
            # Last: the public API first, the gateway's own probes after it.
            documents[GATEWAY] = self.own()
        return merge_documents(documents, missing), not missing
