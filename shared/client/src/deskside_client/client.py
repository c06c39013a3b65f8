"""`DesksideClient`: the public API through the gateway, typed with the contracts' models."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from deskside_client._http import Http, QueryValue
from deskside_client.inbound import Inbound
from deskside_client.inventory import Accounts, Catalog, Devices
from deskside_client.reports import Reports
from deskside_client.retries import RetryPolicy
from deskside_client.tickets import Tickets
from deskside_client.webhooks import Webhooks

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
USER_AGENT = "deskside-client/0.1"


class DesksideClient:
    """An async client; use it as `async with DesksideClient(url, token) as client: ...`.

    `retries` is how many more tries a failed call may get (or a `RetryPolicy`);
    see `deskside_client.retries` for what is retried. Pass `http_client` to
    use your own `httpx.AsyncClient` (its transport, proxies, timeouts): the
    client then leaves closing it to you.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int | RetryPolicy = 3,
        http_client: httpx.AsyncClient | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=timeout, headers={"User-Agent": USER_AGENT, **(headers or {})}
        )
        policy = retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries=retries)
        self._http = Http(self._client, base_url, token, policy)
        self.tickets = Tickets(self._http)
        self.webhooks = Webhooks(self._http)
        self.reports = Reports(self._http)
        self.devices = Devices(self._http)
        self.accounts = Accounts(self._http)
        self.catalog = Catalog(self._http)
        self.inbound = Inbound(self._http)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, QueryValue] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Any other endpoint (`/v1/accounts`, `/v1/agents`, ...), with the same auth,
        retries and errors; a 2xx `httpx.Response` or a `DesksideError`."""
        return await self._http.request(
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            idempotency_key=idempotency_key,
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> DesksideClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
