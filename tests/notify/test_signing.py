"""Signatures any Standard Webhooks library verifies, through every secret rotation."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook

from deskside_notify.signing import new_secret, webhook_headers

BODY = b'{"id":"evt_1","type":"ticket.created"}'


def test_a_delivery_verifies_with_the_standard_library() -> None:
    secret = new_secret()
    headers = webhook_headers([secret], "evt_1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers) is not None
    assert headers["webhook-id"] == "evt_1"


def test_during_a_rotation_either_secret_verifies_and_a_stranger_does_not() -> None:
    current, previous = new_secret(), new_secret()
    headers = webhook_headers([current, previous], "evt_1", int(time.time()), BODY)
    Webhook(current).verify(BODY, headers)
    Webhook(previous).verify(BODY, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(BODY, headers)


def test_a_changed_body_does_not_verify() -> None:
    secret = new_secret()
    headers = webhook_headers([secret], "evt_1", int(time.time()), BODY)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(BODY.replace(b"created", b"deleted"), headers)


def test_secrets_are_fresh_and_long_enough() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) >= 6 + 44 for s in secrets)


def test_the_headers_carry_one_signature_per_secret_and_say_what_they_are() -> None:
    headers = webhook_headers([new_secret(), new_secret()], "evt_9", 1_700_000_000, BODY)
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Deskside-Webhooks/1"
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(signature.startswith("v1,") for signature in signatures)
