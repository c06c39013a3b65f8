"""A typed async Python client for the Deskside API.

    async with DesksideClient("http://127.0.0.1:8080", token) as client:
        ticket = await client.tickets.create(title="Dropbox stopped syncing")
        async for open_ticket in client.tickets.iterate(status="new"):
            ...

Requests and answers are the contracts' own models (`deskside_contracts`);
errors are `DesksideError`s; `verify_webhook` checks Deskside's deliveries.
"""

from deskside_client.client import DesksideClient
from deskside_client.errors import (
    BadRequest,
    Conflict,
    DesksideConnectionError,
    DesksideError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    WebhookVerificationFailed,
)
from deskside_client.retries import RetryPolicy
from deskside_client.signatures import sign_webhook, verify_webhook

__all__ = [
    "BadRequest",
    "Conflict",
    "DesksideClient",
    "DesksideConnectionError",
    "DesksideError",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "Unprocessable",
    "WebhookVerificationFailed",
    "sign_webhook",
    "verify_webhook",
]
