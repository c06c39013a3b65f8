"""What the client raises: every Deskside problem+json answer becomes a typed exception.

The tree, by HTTP status of the answer::

    DesksideError                 any problem answer, and the base to catch
    ├── BadRequest                400
    ├── Unauthorized              401: no token, a bad or expired one
    ├── Forbidden                 403: the token's roles do not allow it
    ├── NotFound                  404: missing, or not yours to see
    ├── Conflict                  409: an invalid state change, a create still in flight
    ├── PreconditionFailed        412: `If-Match` named a stale version
    ├── PayloadTooLarge           413
    ├── Unprocessable             422: invalid input; `field_errors` says where
    ├── RateLimited               429: `retry_after` says for how long
    └── ServerError               5xx
        └── ServiceUnavailable    502, 503, 504: the gateway could not reach a service

    DesksideConnectionError       no answer at all (connection refused, reset, timed out)
    WebhookVerificationFailed     an incoming webhook's signature or timestamp is wrong
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from deskside_contracts.problems import FieldProblem

PROBLEM_TYPE_BASE = "urn:deskside:problem:"


class DesksideError(Exception):
    """An error answer from the Deskside API, as its RFC 9457 problem details say."""

    def __init__(
        self,
        status: int,
        *,
        type: str = "about:blank",  # the problem+json member
        title: str = "",
        detail: str | None = None,
        request_id: str | None = None,
        instance: str | None = None,
        field_errors: list[FieldProblem] | None = None,
        extensions: dict[str, Any] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.request_id = request_id
        self.instance = instance
        self.field_errors: list[FieldProblem] = field_errors or []
        self.extensions: dict[str, Any] = extensions or {}
        self.response = response
        super().__init__(self._message())

    @property
    def slug(self) -> str:
        """The problem type without Deskside's prefix: `stale-version`, `not-found`, ..."""
        return self.type.removeprefix(PROBLEM_TYPE_BASE)

    def _message(self) -> str:
        message = f"{self.status} {self.title or 'error'}"
        if self.detail:
            message += f": {self.detail}"
        if self.request_id:
            message += f" (request id {self.request_id})"
        return message


class BadRequest(DesksideError):
    pass


class Unauthorized(DesksideError):
    pass


class Forbidden(DesksideError):
    pass


class NotFound(DesksideError):
    pass


class Conflict(DesksideError):
    pass


class PreconditionFailed(DesksideError):
    """`If-Match` named a version that is no longer current; read again and retry."""

    @property
    def current_version(self) -> int | None:
        value = self.extensions.get("current_version")
        return value if isinstance(value, int) else None


class PayloadTooLarge(DesksideError):
    pass


class Unprocessable(DesksideError):
    """Invalid input: `field_errors` lists each field and what is wrong with it."""


class RateLimited(DesksideError):
    """Too many requests; `retry_after` is the seconds the gateway asked to wait."""

    @property
    def retry_after(self) -> float | None:
        return retry_after_seconds(self.response) if self.response is not None else None


class ServerError(DesksideError):
    pass


class ServiceUnavailable(ServerError):
    """502, 503 or 504: a service could not be reached or did not answer in time."""


class DesksideConnectionError(Exception):
    """No answer at all: the connection failed, was reset, or timed out."""


class WebhookVerificationFailed(Exception):
    """An incoming webhook is not from Deskside: a bad signature, or a stale timestamp."""


_BY_STATUS: dict[int, type[DesksideError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    422: Unprocessable,
    429: RateLimited,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}

_KNOWN_MEMBERS = {"type", "title", "status", "detail", "instance", "request_id", "errors"}


def error_class(status: int) -> type[DesksideError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else DesksideError


def error_from_response(response: httpx.Response) -> DesksideError:
    """The exception for an error answer, problem+json or not (a proxy's HTML page, say)."""
    body: Any = None
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    problem: dict[str, Any] = body if isinstance(body, dict) else {}
    field_errors: list[FieldProblem] = []
    for item in problem.get("errors") or []:
        try:
            field_errors.append(FieldProblem.model_validate(item))
        except ValueError:
            continue
    detail = problem.get("detail")
    if detail is None and not problem and response.content:
        detail = response.text[:500]
    return error_class(response.status_code)(
        response.status_code,
        type=str(problem.get("type") or "about:blank"),
        title=str(problem.get("title") or response.reason_phrase or ""),
        detail=str(detail) if detail is not None else None,
        request_id=problem.get("request_id") or response.headers.get("x-request-id"),
        instance=problem.get("instance"),
        field_errors=field_errors,
        extensions={k: v for k, v in problem.items() if k not in _KNOWN_MEMBERS},
        response=response,
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (only the delta-seconds form; Deskside sends no dates)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0)
