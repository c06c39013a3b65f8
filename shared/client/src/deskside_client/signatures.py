"""Standard Webhooks signatures both ways: verifying Deskside's events, signing what you send it.

Deskside signs every webhook delivery, and checks every inbound check-in,
alert and email, the Standard Webhooks way: `webhook-id`,
`webhook-timestamp` (seconds; five minutes' tolerance) and
`webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`),
keyed with a `whsec_…` secret. Both directions wrap the reference
`standardwebhooks` library.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

from deskside_client.errors import WebhookVerificationFailed
from deskside_contracts.events import Event


def verify_webhook(
    secret: str | Iterable[str], body: bytes | str, headers: Mapping[str, str]
) -> Event:
    """The event a Deskside webhook carries, once its signature and timestamp check out.

    `body` must be the raw request body, byte for byte, as received: parse it
    only after this. `secret` is the subscription's `whsec_…` secret, or
    several (while you switch to a rotated one). Raises
    `WebhookVerificationFailed` for a missing, bad or expired signature, and for
    a signed body that is not a Deskside event. Deduplicate on `event.id`
    (the `webhook-id` header): deliveries are at least once.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("give the subscription's whsec_… secret")
    raw = body.decode() if isinstance(body, bytes) else body
    lowered = {name.lower(): value for name, value in headers.items()}
    reason = "no secret given"
    for candidate in secrets:
        try:
            webhook = Webhook(candidate)
        except Exception as exc:
            raise ValueError(f"not a webhook secret (whsec_…): {exc}") from None
        try:
            webhook.verify(raw, lowered, json_parse=False)
        except Exception as exc:
            # The library raises its own error for a bad signature or timestamp, and
            # plain ValueErrors for malformed headers: all mean "not verified".
            reason = str(exc) or type(exc).__name__
            continue
        try:
            return Event.model_validate_json(raw)
        except ValidationError as exc:
            raise WebhookVerificationFailed(
                f"the signature is good but the body is not a Deskside event: {exc}"
            ) from None
    raise WebhookVerificationFailed(f"webhook not verified: {reason}")


def sign_webhook(
    secret: str,
    body: bytes | str,
    *,
    webhook_id: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, str]:
    """The three headers that sign `body` with `secret`, for Deskside's inbound endpoints.

    Reuse `webhook_id` when you resend the same message: Deskside processes an
    id once and answers a repeat as a duplicate.
    """
    raw = body.decode() if isinstance(body, bytes) else body
    moment = (timestamp or datetime.now(UTC)).astimezone(UTC)
    message_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    signature = Webhook(secret).sign(message_id, moment, raw)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }
