"""Every request body documents examples, and every example is valid: they cannot drift.

The examples are what `/docs` shows and what a front-end developer copies
first. Each is checked twice: against the JSON Schema the service documents
(what a client generator or a validator sees), and against the contract model
itself, whose rules a schema cannot say (a priority override needs its reason).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from deskside_contracts import common, events, inventory, notify, tickets
from deskside_contracts.tickets import AlertmanagerWebhook, SimpleAlert
from tests.shared.conftest import SERVICES
from tests.support.tokens import TEST_JWT_SECRET

JSON = "application/json"
# Bodies described by hand rather than by one model: the models they may be.
HAND_DESCRIBED: dict[str, tuple[type[BaseModel], ...]] = {
    "receiveInboundAlerts": (AlertmanagerWebhook, SimpleAlert),
}


def contract_models() -> dict[str, type[BaseModel]]:
    """Every Pydantic model of the contracts, by class name."""
    models: dict[str, type[BaseModel]] = {}
    for module in (common, events, inventory, notify, tickets):
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, BaseModel):
                models.setdefault(name, value)
    return models


MODELS = contract_models()


def service_app(service: str, tmp_path: Path) -> FastAPI:
    settings_class, create_app = SERVICES[service]
    return create_app(settings_class(env="test", var_dir=tmp_path, jwt_secret=TEST_JWT_SECRET))


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each service's own OpenAPI document (its internal routes included), built in-process."""
    return {
        service: service_app(service, tmp_path_factory.mktemp(service)).openapi()
        for service in sorted(SERVICES)
    }


def request_bodies(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(operationId, JSON body schema) of every operation that takes a JSON body."""
    for path_item in document["paths"].values():
        for operation in path_item.values():
            content = operation.get("requestBody", {}).get("content", {})
            if JSON in content:
                yield operation["operationId"], content[JSON]["schema"]


def referenced_models(schema: dict[str, Any]) -> list[str]:
    """The component names a body schema refers to: itself, or each of its alternatives."""
    alternatives = schema.get("anyOf") or schema.get("oneOf") or [schema]
    return [
        alternative["$ref"].rsplit("/", 1)[-1]
        for alternative in alternatives
        if "$ref" in alternative
    ]


def body_cases(documents: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, Any, Any]]:
    """(where, model or schema title, JSON schema, example) for every body example."""
    for service, document in documents.items():
        components = document["components"]
        for operation_id, schema in request_bodies(document):
            names = referenced_models(schema)
            for name in names:
                component = components["schemas"][name]
                for example in component.get("examples", []):
                    yield (
                        f"{service} {operation_id}",
                        name,
                        {**component, "components": components},
                        example,
                    )
            if not names:
                for example in schema.get("examples", []):
                    yield (
                        f"{service} {operation_id}",
                        schema.get("title", operation_id),
                        schema,
                        example,
                    )


def test_every_request_body_documents_examples(documents: dict[str, dict[str, Any]]) -> None:
    missing = []
    for service, document in documents.items():
        for operation_id, schema in request_bodies(document):
            names = referenced_models(schema)
            if names:
                missing += [
                    f"{service} {operation_id}: {name}"
                    for name in names
                    if not document["components"]["schemas"][name].get("examples")
                ]
            elif not schema.get("examples"):
                missing.append(f"{service} {operation_id}: its inline body")
    assert missing == []


def test_every_body_example_is_valid_against_its_documented_schema(
    documents: dict[str, dict[str, Any]],
) -> None:
    cases = list(body_cases(documents))
    assert len(cases) >= 40
    invalid = [
        f"{where} ({name}): {error.message} at {list(error.absolute_path)}"
        for where, name, schema, example in cases
        for error in Draft202012Validator(schema).iter_errors(example)
    ]
    assert invalid == []


def test_every_body_example_is_valid_for_its_model(documents: dict[str, dict[str, Any]]) -> None:
    invalid = []
    for where, name, _, example in body_cases(documents):
        operation_id = where.split()[-1]
        candidates = HAND_DESCRIBED.get(operation_id) or (MODELS[name],)
        errors = []
        for model in candidates:
            try:
                # As the API reads it: JSON on the wire, the model's own validators included.
                model.model_validate_json(json.dumps(example))
            except ValidationError as error:
                errors.append(str(error))
            else:
                break
        else:
            invalid.append(f"{where} ({name}): {errors}")
    assert invalid == []


@pytest.mark.parametrize(
    "model",
    [model for model in MODELS.values() if model.model_config.get("json_schema_extra")],
    ids=lambda model: model.__name__,
)
def test_every_model_example_is_valid(model: type[BaseModel]) -> None:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    assert examples
    for example in examples:
        model.model_validate_json(json.dumps(example))
