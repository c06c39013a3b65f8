"""The Deskside API for the `deskside` command: the typed client, its errors as sentences.

`call_api` runs one piece of async work with a `DesksideClient` and turns
what the client raises into `CliError`s: a problem+json answer into its title,
detail and invalid fields; no answer at all into `Unreachable`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from pydantic import ValidationError

from deskside_cli.errors import CliError, Unreachable
from deskside_client import (
    DesksideClient,
    DesksideConnectionError,
    DesksideError,
    RetryPolicy,
    Unauthorized,
)

DEFAULT_URL = "http://127.0.0.1:8080"
# A person is waiting: a few quick retries (429s wait out their Retry-After), then say so.
RETRIES = RetryPolicy(retries=3, backoff=0.1, max_backoff=1.0, max_retry_after=30.0)
WITHOUT_CREDENTIALS = (
    "No token: pass --token or set DESKSIDE_TOKEN "
    "(for the local stack: export DESKSIDE_TOKEN=$(deskside token --role admin))."
)

ResultT = TypeVar("ResultT")


def call_api(
    url: str, token: str | None, work: Callable[[DesksideClient], Awaitable[ResultT]]
) -> ResultT:
    """Run `work` with a client of the gateway at `url`; failures become `CliError`s."""
    if not token:
        raise CliError(WITHOUT_CREDENTIALS)
    url = url.rstrip("/")

    async def run() -> ResultT:
        async with DesksideClient(url, token, retries=RETRIES) as client:
            try:
                return await work(client)
            except DesksideConnectionError as exc:
                raise unreachable(url, exc) from None
            except DesksideError as exc:
                raise CliError(sentence_for(exc)) from None
            except ValidationError:
                raise CliError(
                    f"{url} answered with something that is not Deskside's: is it the gateway?"
                ) from None

    return asyncio.run(run())


def sentence_for(error: DesksideError) -> str:
    """A refused request as a sentence: the problem's title, its detail, each invalid field."""
    title = (error.title or f"HTTP {error.status}").rstrip(".")
    lines = [f"{title}: {error.detail}" if error.detail else f"{title}."]
    lines += [f"  {problem.field}: {problem.message}" for problem in error.field_errors]
    if isinstance(error, Unauthorized):
        lines.append("  " + WITHOUT_CREDENTIALS.removeprefix("No token: ").capitalize())
    return "\n".join(lines)


def unreachable(url: str, error: DesksideConnectionError) -> Unreachable:
    cause = error.__cause__
    if isinstance(cause, httpx.TimeoutException) and not isinstance(cause, httpx.ConnectTimeout):
        return Unreachable(f"Deskside at {url} did not answer in time.")
    if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout):
        return Unreachable(f"Cannot reach Deskside at {url}: is it running? (make run)")
    return Unreachable(f"Talking to Deskside at {url} failed: {cause or error}.")
