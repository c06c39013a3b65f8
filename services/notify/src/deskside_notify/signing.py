"""Standard Webhooks signatures on what notify sends.

`webhook-signature` is `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`
under the endpoint's secret; during a secret rotation both the new and the
old secret sign, space-separated, so a receiver holding either verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random_bytes
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105  (the format's prefix, not a secret)
USER_AGENT = "Deskside-Webhooks/1"


def new_secret() -> str:
    """A fresh `whsec_…` secret: 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(random_bytes.token_bytes(32)).decode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(
    secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of one delivery attempt of `body`, signed with every secret given."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret, webhook_id, timestamp, body) for secret in secrets
        ),
    }
