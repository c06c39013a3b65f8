"""Errors as classes, rendered in one wire format: RFC 9457 problem+json.

    DomainError                  a rule said no; carries its status and problem type
    ├── BadRequest          400
    ├── NotAuthenticated    401  no token, or a token that does not verify
    ├── Forbidden           403  the caller's role may not do this at all
    ├── NotFound            404  missing, or not the caller's to see (never 403)
    ├── Conflict            409  the resource's state forbids it right now
    ├── PreconditionFailed  412  If-Match names a stale version
    └── Unprocessable       422  well-formed but wrong input

Services subclass these for their own cases (`InvalidTransition(Conflict)`).
Every error leaves as problem+json; an unexpected one is a 500 that tells the
caller its request id and nothing about the code.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from deskside_contracts.problems import PROBLEM_CONTENT_TYPE, FieldProblem, Problem
from deskside_kit.context import current_request_id

PROBLEM_TYPE_BASE = "urn:deskside:problem:"


class DomainError(Exception):
    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions

    @classmethod
    def problem_type(cls) -> str:
        return PROBLEM_TYPE_BASE + cls.slug


class BadRequest(DomainError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class NotAuthenticated(DomainError):
    status = 401
    slug = "not-authenticated"
    title = "Not authenticated"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extensions)


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class PayloadTooLarge(DomainError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(DomainError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PreconditionFailed(DomainError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class Unprocessable(DomainError):
    status = 422
    slug = "unprocessable"
    title = "Unprocessable content"


class DatabaseUnavailable(DomainError):
    """The request never reached the database: nothing it asked for was done."""

    status = 503
    slug = "database-unavailable"
    title = "Database unavailable"


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    problem_type: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[FieldProblem] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """Render a problem+json response; the one place the wire format is written."""
    problem = Problem(
        type=problem_type,
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        request_id=current_request_id(),
        errors=errors,
        **extensions,
    )
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _field_location(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location)


def _describe_validation(errors: list[FieldProblem]) -> str:
    named = "; ".join(f"{error.field}: {error.message}" for error in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"{len(errors)} invalid input{'s' if len(errors) != 1 else ''}: {named}{more}"


async def _handle_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return domain_problem(request, exc)


def domain_problem(request: Request, error: DomainError) -> JSONResponse:
    """The problem+json answer to a request that failed with `error`."""
    return problem_response(
        error.status,
        title=error.title,
        detail=error.detail,
        problem_type=error.problem_type(),
        instance=request.url.path,
        headers=error.headers,
        **error.extensions,
    )


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldProblem(
            field=_field_location(tuple(error.get("loc", ()))),
            message=str(error.get("msg", "invalid")),
            code=str(error.get("type", "invalid")),
        )
        for error in exc.errors()
    ]
    return problem_response(
        422,
        title="Invalid input",
        detail=_describe_validation(errors),
        problem_type=PROBLEM_TYPE_BASE + "validation",
        instance=request.url.path,
        errors=errors,
    )


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(
        exc.status_code,
        detail=detail,
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _handle_domain_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    # Unexpected exceptions become a 500 problem in ObservabilityMiddleware,
    # where the request id is still known.


def problem_content() -> dict[str, Any]:
    """An OpenAPI `content` map: problem+json, the `Problem` schema."""
    return {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def problem_responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each listed error as problem+json."""
    responses: dict[int | str, dict[str, Any]] = {}
    for error in sorted(errors, key=lambda e: e.status):
        entry = responses.setdefault(
            error.status,
            {"description": error.title, "content": problem_content()},
        )
        if error.title not in entry["description"]:
            entry["description"] += f"; {error.title}"
    return responses


def describe_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare every error of an OpenAPI document as problem+json; returns the document.

    FastAPI documents its own `HTTPValidationError` for 422; Deskside answers
    with a problem, so the document says that instead. The errors any
    operation may answer (a path that names nothing, a missing token, an
    unreadable body, an unexpected failure) are added where they apply.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["FieldProblem"] = FieldProblem.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    problem_schema.pop("$defs", None)
    components["Problem"] = problem_schema
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "{" in path:
                # Whatever a path names may not exist, or not for this caller.
                responses.setdefault(
                    "404", {"description": "Not found", "content": problem_content()}
                )
            if "422" in responses:
                responses["422"] = {"description": "Invalid input", "content": problem_content()}
            if operation.get("security"):
                responses.setdefault(
                    "401", {"description": "Not authenticated", "content": problem_content()}
                )
                # Every authenticated operation admits only some roles.
                responses.setdefault(
                    "403", {"description": "Not allowed", "content": problem_content()}
                )
            if path.startswith("/v1/"):
                # Every API operation reads or writes a database (deskside_kit.database).
                responses.setdefault(
                    "503",
                    {
                        "description": "The database could not be reached; nothing was "
                        "done: retry after `Retry-After` seconds",
                        "content": problem_content(),
                    },
                )
            if "requestBody" in operation:
                responses.setdefault(
                    "400", {"description": "Body not readable", "content": problem_content()}
                )
                responses.setdefault(
                    "413", {"description": "Body too large", "content": problem_content()}
                )
            responses.setdefault(
                "500",
                {
                    "description": "Unexpected error: the problem names the request id, "
                    "nothing more",
                    "content": problem_content(),
                },
            )
    return schema
