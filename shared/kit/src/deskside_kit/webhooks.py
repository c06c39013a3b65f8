"""Inbound webhooks signed the Standard Webhooks way (`webhook-id`, `-timestamp`, `-signature`).

Each integration has its own secret. The signature covers the raw body as
received, so it is verified before the body is parsed; timestamps more than
five minutes off are refused, so a captured request cannot be replayed later.
Repeats of the same `webhook-id` are the caller's retries: services record the
ids they have processed and do nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from standardwebhooks.webhooks import Webhook

from deskside_kit.problems import NotAuthenticated


@dataclass(frozen=True)
class VerifiedWebhook:
    integration: str
    webhook_id: str


class WebhookVerifier:
    def __init__(self, secrets: Mapping[str, str]) -> None:
        """`secrets`: integration name -> its `whsec_…` secret."""
        self._webhooks = {name: Webhook(secret) for name, secret in secrets.items()}

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedWebhook:
        """The integration whose secret signed `body`; NotAuthenticated otherwise."""
        lowered = {name.lower(): value for name, value in headers.items()}
        webhook_id = lowered.get("webhook-id", "")
        if not webhook_id or len(webhook_id) > 255:
            raise NotAuthenticated("Send the webhook-id, webhook-timestamp and webhook-signature.")
        for integration, webhook in self._webhooks.items():
            try:
                webhook.verify(body, lowered, json_parse=False)
            except Exception:  # noqa: S112  (any failure means: not this integration's signature)
                continue
            return VerifiedWebhook(integration=integration, webhook_id=webhook_id)
        raise NotAuthenticated(
            "The webhook signature does not verify, or its timestamp is more than five minutes off."
        )
