"""The merged OpenAPI document is one a client generator can use, proven by using one.

A real stack (the four processes on loopback) serves the document through the
gateway; it must be valid OpenAPI, name every operation once and verb-noun,
tag and describe every operation, and declare every error as problem+json.
Then openapi-python-client generates a client from it, and that client opens
and finds a ticket through the gateway, and reads a 404 as a problem.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from deskside_kit.devstack import GATEWAY, SERVICES, Stack
from deskside_kit.tags import Tag
from tests.support.servers import free_ports
from tests.support.tokens import TEST_JWT_SECRET, bearer

PROBLEM = "application/problem+json"
METHODS = {"get", "put", "post", "delete", "patch"}
# camelCase, a verb first: createTicket, listDevices, getAdoptionReport.
VERB_NOUN = re.compile(r"^[a-z]+[A-Z][A-Za-z]+$")
VERBS = {
    "add", "approve", "assign", "check", "close", "create", "declare", "delete", "escalate",
    "export", "get", "link", "list", "log", "mark", "merge", "preview", "rate", "receive",
    "recover", "register", "reject", "remove", "reopen", "replace", "reset", "resolve",
    "retry", "revoke", "rotate", "send", "start", "update",
}  # fmt: skip
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "deskside_generated_client"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("clients")
    ports = dict(zip([p.name for p in (*SERVICES, GATEWAY)], free_ports(4), strict=True))
    running = Stack(
        ports=ports,
        env={
            "DESKSIDE_ENV": "test",
            "DESKSIDE_VAR_DIR": str(root / "var"),
            "DESKSIDE_JWT_SECRET": TEST_JWT_SECRET,
            "DESKSIDE_LOG_LEVEL": "WARNING",
        },
        log_dir=root / "logs",
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def document(stack: Stack) -> dict[str, Any]:
    response = httpx.get(f"{stack.gateway_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    merged: dict[str, Any] = response.json()
    assert "x-deskside-missing-services" not in merged
    return merged


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_operation_ids_are_unique_verb_noun_and_camel_case(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]

    assert len(ids) > 80
    assert sorted(id_ for id_ in ids if ids.count(id_) > 1) == []
    assert [id_ for id_ in ids if not VERB_NOUN.match(id_)] == []
    assert sorted({re.match(r"^[a-z]+", id_)[0] for id_ in ids} - VERBS) == []  # type: ignore[index]
    # The gateway's own endpoints are there, and no service's internal ones.
    assert {"checkLiveness", "checkReadiness", "exportMetrics"} <= set(ids)
    assert not any(path.startswith("/internal") for path in document["paths"])


def test_every_operation_has_one_described_tag(document: dict[str, Any]) -> None:
    described = {tag["name"]: tag.get("description") for tag in document["tags"]}

    assert all(described.values())
    assert list(described) == [tag.value for tag in Tag if tag.value in described]
    for path, method, operation in operations(document):
        assert len(operation["tags"]) == 1, (method, path)
        assert operation["tags"][0] in described, (method, path)
    expected = {tag.value for tag in Tag} - {Tag.INTERNAL.value}
    assert set(described) == expected


def test_every_error_is_a_problem(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        responses = operation["responses"]
        errors = {status: r for status, r in responses.items() if not status.startswith(("2", "3"))}
        assert {"429", "500"} <= errors.keys(), (method, path)
        if not path.startswith(("/healthz", "/readyz", "/metrics")):
            assert {"502", "504"} <= errors.keys(), (method, path)
        if operation.get("security"):
            assert {"401", "403"} <= errors.keys(), (method, path)
        for status, response in errors.items():
            assert list(response.get("content", {})) == [PROBLEM], (method, path, status)
            schema = response["content"][PROBLEM]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}


def test_request_bodies_show_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for path, method, operation in operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is None:
            continue
        schema = body["schema"]
        alternatives = schema.get("anyOf") or [schema]
        for alternative in alternatives:
            if alternative.get("type") == "null":  # an optional body
                continue
            if "$ref" in alternative:
                alternative = schemas[alternative["$ref"].rsplit("/", 1)[-1]]
            assert alternative.get("examples"), (method, path)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/reports/tickets/productivity",
        "/v1/reports/tickets/summary",
        "/v1/reports/tickets/skills",
        "/v1/reports/adoption",
    ],
)
def test_reports_offer_csv_besides_json(document: dict[str, Any], path: str) -> None:
    operation = document["paths"][path]["get"]
    content = operation["responses"]["200"]["content"]

    # JSON first: generated clients take the first type they know as the answer.
    assert list(content) == ["application/json", "text/csv"]
    # The columns the description lists are the example's header line.
    listed = operation["responses"]["200"]["description"].split("Columns: ")[1].split(".")[0]
    assert content["text/csv"]["example"].splitlines()[0] == ",".join(
        re.findall(r"`(\w+)`", listed)
    )
    format_ = next(p for p in operation["parameters"] if p["name"] == "format")
    assert format_["schema"]["enum"] == ["json", "csv"]
    assert format_["schema"]["default"] == "json"


def test_a_generated_client_works_against_the_stack(
    stack: Stack, document: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "package_name_override": PACKAGE,
                # No post hooks: formatting the generated code is not what is tested.
                "post_hooks": [],
                # The raw email body of POST /v1/inbound/email: bytes, to this generator.
                "content_type_overrides": {"message/rfc822": "application/octet-stream"},
            }
        )
    )
    generated = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(tmp_path / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    # Every operation and schema was understood: nothing skipped, nothing guessed.
    assert "warning" not in output.lower(), output

    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        client_module = importlib.import_module(PACKAGE)
        create_ticket = importlib.import_module(f"{PACKAGE}.api.tickets.create_ticket")
        list_tickets = importlib.import_module(f"{PACKAGE}.api.tickets.list_tickets")
        get_ticket = importlib.import_module(f"{PACKAGE}.api.tickets.get_ticket")
        models = importlib.import_module(f"{PACKAGE}.models")

        token = bearer("client-gen", "requester")["Authorization"].removeprefix("Bearer ")
        with client_module.AuthenticatedClient(
            base_url=stack.gateway_url, token=token, raise_on_unexpected_status=True
        ) as client:
            created = create_ticket.sync(
                client=client,
                body=models.TicketCreate(title="Generated clients can open tickets"),
            )
            assert isinstance(created, models.TicketRead)
            assert created.reference.startswith("SD-")

            page = list_tickets.sync(client=client, limit=10)
            assert isinstance(page, models.PageTicketRead)
            assert [ticket.reference for ticket in page.items] == [created.reference]

            missing = get_ticket.sync(client=client, ticket_ref="SD-999999")
            assert isinstance(missing, models.Problem)
            assert missing.status == 404
    finally:
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]
