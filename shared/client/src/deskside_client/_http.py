"""The one place requests are sent: authentication, retries, errors, decoding."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

import httpx
from pydantic import BaseModel, TypeAdapter

from deskside_client.errors import (
    DesksideConnectionError,
    error_from_response,
    retry_after_seconds,
)
from deskside_client.retries import IN_FLIGHT_PROBLEM, RETRIED_STATUSES, RetryPolicy

logger = logging.getLogger("deskside_client")

ModelT = TypeVar("ModelT")
Scalar = str | int | float | bool | datetime
QueryValue = Scalar | None | Sequence[Scalar]
PrimitiveData = str | int | float | bool | None

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Transport errors after which the request surely never reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Http:
    """Sends one logical call, retrying it as `RetryPolicy` allows; raises `DesksideError`s."""

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, token: str | None, policy: RetryPolicy
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.policy = policy

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        body: BaseModel | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        keyed: bool = False,
        content: bytes | None = None,
        retry_safe: bool = False,
    ) -> httpx.Response:
        """One call; `keyed` creates carry an `Idempotency-Key`, the same on every retry.

        `retry_safe` says that sending it twice does no harm (the server dedupes it).
        """
        method = method.upper()
        sent_headers = {"Accept": "application/json"}
        if self.token is not None:
            sent_headers["Authorization"] = f"Bearer {self.token}"
        if keyed or idempotency_key is not None:
            sent_headers["Idempotency-Key"] = idempotency_key or f"dsk-{uuid.uuid4()}"
        if body is not None:
            content = body.model_dump_json(by_alias=True, exclude_unset=True).encode()
        elif json is not None:
            content = TypeAdapter(Any).dump_json(json)
        sent_headers.update(headers or {})
        if content is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        safe = retry_safe or method in _IDEMPOTENT_METHODS or "Idempotency-Key" in sent_headers
        url = self.base_url + path
        query = _query(params)

        attempt = 0
        while True:
            try:
                response = await self.client.request(
                    method,
                    url,
                    params=query,
                    content=content,
                    headers=sent_headers,
                )
            except httpx.TransportError as exc:
                if attempt < self.policy.retries and (safe or isinstance(exc, _NOT_SENT)):
                    attempt += 1
                    await self._wait(attempt, None, f"{method} {path}: {exc!r}")
                    continue
                raise DesksideConnectionError(f"{method} {path}: {exc!r}") from exc
            if response.is_success:
                return response
            if method == "DELETE" and attempt > 0 and response.status_code == 404:
                # An earlier try deleted it, and only its answer was lost: it is gone, as asked.
                return response
            if attempt < self.policy.retries and self._retryable(response, safe=safe):
                retry_after = retry_after_seconds(response)
                if retry_after is None or retry_after <= self.policy.max_retry_after:
                    attempt += 1
                    await self._wait(
                        attempt, retry_after, f"{method} {path}: {response.status_code}"
                    )
                    continue
            raise error_from_response(response)

    def _retryable(self, response: httpx.Response, *, safe: bool) -> bool:
        status = response.status_code
        if status == 429:
            # The gateway refused it before any service saw it: safe to send again.
            return True
        if not safe:
            return False
        if status in RETRIED_STATUSES:
            return True
        # A keyed create whose first copy is still being worked on: its answer comes soon.
        return status == 409 and _problem_type(response) == IN_FLIGHT_PROBLEM

    async def _wait(self, attempt: int, retry_after: float | None, why: str) -> None:
        delay = self.policy.delay(attempt, retry_after)
        logger.info("retry %d/%d in %.2fs after %s", attempt, self.policy.retries, delay, why)
        await asyncio.sleep(delay)

    async def call(
        self,
        model: type[ModelT],
        method: str,
        path: str,
        **kwargs: Any,
    ) -> ModelT:
        """A request whose JSON answer is validated into `model` (`TicketRead`, `Page[...]`)."""
        response = await self.request(method, path, **kwargs)
        return cast(ModelT, _adapter(model).validate_json(response.content))


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model: type[Any]) -> TypeAdapter[Any]:
    # Building an adapter costs more than a request's validation: one per model.
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


def _query(params: Mapping[str, QueryValue] | None) -> list[tuple[str, PrimitiveData]]:
    """Query pairs without the unset ones; lists repeat the parameter (`status=a&status=b`)."""
    pairs: list[tuple[str, PrimitiveData]] = []
    for name, value in (params or {}).items():
        values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                pairs.append((name, "true" if item else "false"))
            elif isinstance(item, datetime):
                pairs.append((name, item.isoformat()))
            else:
                pairs.append((name, str(item)))
    return pairs


def _problem_type(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None
