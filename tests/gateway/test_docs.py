"""The merged OpenAPI document and the offline API explorer."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from deskside_gateway.openapi import merge_documents
from tests.gateway.conftest import GatewayFor, echo_app, running_upstream


def service_document(paths: dict[str, str], schemas: dict[str, Any]) -> dict[str, Any]:
    """A minimal OpenAPI document: each path answers with the named schema."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "a service", "version": "0.1.0"},
        "paths": {
            path: {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": f"#/components/schemas/{schema}"}
                                }
                            },
                        }
                    }
                }
            }
            for path, schema in paths.items()
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer"}},
        },
    }


PROBLEM = {"type": "object", "properties": {"type": {"type": "string"}}}
TICKETS = service_document(
    {"/v1/tickets": "Item", "/healthz": "Health", "/internal/x": "Item"},
    {"Item": {"type": "object", "title": "Ticket"}, "Problem": PROBLEM, "Health": {}},
)
INVENTORY = service_document(
    {"/v1/technologies": "Item"},
    {"Item": {"type": "object", "title": "Technology"}, "Problem": PROBLEM},
)


def test_only_public_paths_of_each_service_are_kept() -> None:
    merged = merge_documents({"tickets": TICKETS, "inventory": INVENTORY}, missing=[])
    assert set(merged["paths"]) == {"/v1/tickets", "/v1/technologies"}
    assert merged["openapi"] == "3.1.0"
    assert "x-deskside-missing-services" not in merged


def test_schemas_named_alike_are_renamed_and_identical_ones_shared() -> None:
    merged = merge_documents({"tickets": TICKETS, "inventory": INVENTORY}, missing=[])
    schemas = merged["components"]["schemas"]
    assert schemas["Item"]["title"] == "Ticket"
    assert schemas["InventoryItem"]["title"] == "Technology"
    assert "InventoryProblem" not in schemas
    technologies = merged["paths"]["/v1/technologies"]["get"]["responses"]["200"]
    reference = technologies["content"]["application/json"]["schema"]["$ref"]
    assert reference == "#/components/schemas/InventoryItem"


def test_a_missing_service_is_named() -> None:
    merged = merge_documents({"tickets": TICKETS}, missing=["inventory"])
    assert merged["x-deskside-missing-services"] == ["inventory"]
    assert "inventory" in merged["info"]["description"]


async def test_the_gateway_serves_the_merged_document(gateway_for: GatewayFor) -> None:
    async with (
        running_upstream(echo_app("tickets", openapi=TICKETS)) as tickets,
        running_upstream(echo_app("inventory", openapi=INVENTORY)) as inventory,
    ):
        gateway = await gateway_for(tickets_url=tickets, inventory_url=inventory)
        response = await gateway.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    # The gateway's own endpoints too, but no service's /healthz or /internal.
    assert set(document["paths"]) == {
        "/v1/tickets",
        "/v1/technologies",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    assert document["paths"]["/readyz"]["get"]["operationId"] == "checkReadiness"
    assert document["x-deskside-missing-services"] == ["notify"]


def test_a_shared_operation_id_is_made_unique() -> None:
    tickets = copy.deepcopy(TICKETS)
    inventory = copy.deepcopy(INVENTORY)
    tickets["paths"]["/v1/tickets"]["get"]["operationId"] = "listThings"
    inventory["paths"]["/v1/technologies"]["get"]["operationId"] = "listThings"

    merged = merge_documents({"tickets": tickets, "inventory": inventory}, missing=[])

    assert merged["paths"]["/v1/tickets"]["get"]["operationId"] == "listThings"
    assert merged["paths"]["/v1/technologies"]["get"]["operationId"] == "listThingsInventory"


def test_tags_come_in_one_order_with_their_descriptions() -> None:
    tickets = copy.deepcopy(TICKETS)
    inventory = copy.deepcopy(INVENTORY)
    tickets["paths"]["/v1/tickets"]["get"]["tags"] = ["Reports"]
    inventory["paths"]["/v1/technologies"]["get"]["tags"] = ["Catalog"]
    tickets["tags"] = [{"name": "Reports", "description": "Numbers"}, {"name": "Internal"}]
    inventory["tags"] = [{"name": "Reports", "description": "Numbers"}, {"name": "Catalog"}]

    merged = merge_documents({"tickets": tickets, "inventory": inventory}, missing=[])

    assert merged["tags"] == [{"name": "Catalog"}, {"name": "Reports", "description": "Numbers"}]


def test_what_the_gateway_itself_may_answer_is_declared() -> None:
    merged = merge_documents({"tickets": TICKETS}, missing=[])

    responses = merged["paths"]["/v1/tickets"]["get"]["responses"]
    assert {"200", "429", "502", "504"} <= responses.keys()
    assert list(responses["502"]["content"]) == ["application/problem+json"]
    # The services' own documents are left as they were.
    assert set(TICKETS["paths"]["/v1/tickets"]["get"]["responses"]) == {"200"}


async def test_the_explorer_works_offline(gateway: httpx.AsyncClient) -> None:
    page = await gateway.get("/docs")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    assert "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in page.text
        response = await gateway.get(f"/docs/assets/{asset}")
        assert response.status_code == 200
        assert len(response.content) > 10_000
