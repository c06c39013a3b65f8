"""JWT: crafted tokens against every service; none may get in.

Each service is probed on a route its control token (a genuine admin token)
opens, so every probe could succeed: a refusal is the service's doing. The
tokens are built by hand where a JWT library would refuse to make them
(`alg: None`, HMAC keyed with an RSA public key, a lying `kid`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

from tests.hard import parts
from tests.support.apps import serving
from tests.support.servers import serving_over_http
from tests.support.tokens import TEST_JWT_SECRET

pytestmark = pytest.mark.hard

PROBLEM = "application/problem+json"
# A route per service that an admin token opens.
PROBES = {"tickets": "/v1/tickets", "inventory": "/v1/devices", "notify": "/v1/webhooks"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _hmac_signed(
    header: dict[str, Any], claims: dict[str, Any], key: bytes, digest_name: str = "sha256"
) -> str:
    """Signed by hand, with any key: PyJWT rightly refuses to HMAC with a public key."""
    signing_input = _segments(header, claims)
    digest = hmac.new(key, signing_input.encode(), getattr(hashlib, digest_name)).digest()
    return f"{signing_input}.{_b64(digest)}"


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "mallory",
        "email": "mallory@example.com",
        "roles": ["admin"],
        "iss": "deskside",
        "aud": "deskside",
        "iat": now,
        "exp": now + 600,
    }
    merged = {**base, **changes}
    return {name: value for name, value in merged.items() if value is not None}


def _hs256(claims: dict[str, Any], secret: str = TEST_JWT_SECRET, **header: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=header or None)


def _tamper_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01
    return f"{head}.{payload}.{_b64(bytes(raw))}"


def _tamper_payload(token: str) -> str:
    """A requester's genuine token with the payload rewritten to say admin; signature kept."""
    head, _, signature = token.split(".")
    forged = _b64(json.dumps(_claims(sub="bob", roles=["admin"])).encode())
    return f"{head}.{forged}.{signature}"


ATTACKER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_EC = ec.generate_private_key(ec.SECP256R1())


def _attacker_jwk() -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(ATTACKER_RSA.public_key()))
    return jwk


def hmac_stack_tokens() -> dict[str, str]:
    """Crafted tokens for a stack that signs with an HS256 secret."""
    now = int(time.time())
    genuine_requester = _hs256(_claims(sub="bob", roles=["requester"]))
    return {
        "alg none": jwt.encode(_claims(), None, algorithm="none"),
        "alg None, by hand": _segments({"alg": "None", "typ": "JWT"}, _claims()) + ".",
        "alg none, a signature kept": _segments({"alg": "none"}, _claims())
        + "."
        + genuine_requester.split(".")[2],
        "wrong secret": _hs256(_claims(), "not-the-deskside-secret-0123456789abcdef"),
        "empty secret": _hmac_signed({"alg": "HS256", "typ": "JWT"}, _claims(), b""),
        "HS512 with the right secret": _hmac_signed(
            {"alg": "HS512"}, _claims(), TEST_JWT_SECRET.encode(), "sha512"
        ),
        "HS384 with the right secret": _hmac_signed(
            {"alg": "HS384"}, _claims(), TEST_JWT_SECRET.encode(), "sha384"
        ),
        "RS256 by an attacker's key": jwt.encode(_claims(), ATTACKER_RSA, algorithm="RS256"),
        "ES256 by an attacker's key": jwt.encode(_claims(), ATTACKER_EC, algorithm="ES256"),
        "RS256 carrying its own jwk": jwt.encode(
            _claims(), ATTACKER_RSA, algorithm="RS256", headers={"jwk": _attacker_jwk()}
        ),
        "wrong issuer": _hs256(_claims(iss="https://evil.example")),
        "wrong audience": _hs256(_claims(aud="another-app")),
        "audience list without deskside": _hs256(_claims(aud=["a", "b"])),
        "no issuer": _hs256(_claims(iss=None)),
        "no audience": _hs256(_claims(aud=None)),
        "no expiry": _hs256(_claims(exp=None)),
        "no subject": _hs256(_claims(sub=None)),
        "empty subject": _hs256(_claims(sub="")),
        "expired": _hs256(_claims(iat=now - 7200, exp=now - 3600)),
        "expired past the leeway": _hs256(_claims(exp=now - 60)),
        "not yet valid (nbf)": _hs256(_claims(nbf=now + 3600)),
        "issued in the future (iat)": _hs256(_claims(iat=now + 3600)),
        "bad signature": _tamper_signature(_hs256(_claims())),
        "tampered payload": _tamper_payload(genuine_requester),
        "huge token": _hs256(_claims(padding="x" * 200_000), "wrong-" + "k" * 40),
        "unknown critical header": _hs256(
            _claims(), crit=["deskside-magic"], **{"deskside-magic": 1}
        ),
        "unknown roles only": _hs256(_claims(roles=["superuser", "root", "Admin"])),
        "not a JWT": "not.a.jwt",
        "two segments": _segments({"alg": "HS256"}, _claims()),
        "empty": "",
    }


async def _probe(client: httpx.AsyncClient, path: str, token: str) -> httpx.Response:
    return await client.get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(params=list(PROBES))
async def service(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    async with serving(parts.SERVICES[request.param](tmp_path)) as client:
        yield request.param, client


async def test_no_crafted_token_gets_into_any_service(
    service: tuple[str, httpx.AsyncClient],
) -> None:
    name, client = service
    path = PROBES[name]
    control = await _probe(client, path, _hs256(_claims()))
    assert control.status_code == 200, control.text

    accepted, unclear = [], []
    tokens = hmac_stack_tokens()
    for case, token in tokens.items():
        response = await _probe(client, path, token)
        if response.status_code < 400:
            accepted.append(case)
        elif response.status_code not in (401, 403) or (
            response.headers["content-type"] != PROBLEM
        ):
            unclear.append(f"{case}: {response.status_code}")

    print(f"\nJWT [{name}]: {len(tokens)} crafted tokens, {len(accepted)} accepted")
    assert accepted == []
    assert unclear == []
    assert len(tokens) >= 20


async def test_a_token_cannot_pass_for_a_deskside_service(tmp_path: Path) -> None:
    """A genuine token whose subject and role match the service credential's identity."""
    lookalike = _hs256(_claims(sub="deskside-service", roles=["integration"], email=None))
    async with serving(parts.notify(tmp_path)) as client:
        event = {
            "id": "evt_lookalike",
            "type": "ticket.created",
            "timestamp": "2026-11-23T10:00:00Z",
            "source": "tickets",
            "subject": "tkt_lookalike",
            "data": {},
        }
        response = await client.post(
            "/internal/events",
            json={"events": [event]},
            headers={"Authorization": f"Bearer {lookalike}"},
        )
        # The same batch with the real credential is taken: the refusal is about the caller.
        genuine = await client.post(
            "/internal/events",
            json={"events": [event]},
            headers={"X-Deskside-Service-Token": parts.SERVICE_TOKEN},
        )
    assert response.status_code == 403
    assert genuine.status_code == 200, genuine.text


# --- a stack that trusts an identity provider's JWKS ---------------------------------------


def _jwks_app(public_jwk: dict[str, Any]) -> FastAPI:
    app = FastAPI()

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": [public_jwk]}

    return app


async def test_no_crafted_token_gets_past_a_jwks(tmp_path: Path) -> None:
    provider = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider.public_key()))
    public_jwk |= {"kid": "provider-1", "use": "sig", "alg": "RS256"}
    public_pem = provider.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def rs256(claims: dict[str, Any], key: Any = provider, **header: Any) -> str:
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "provider-1", **header})

    attacker_jwks = _jwks_app({**_attacker_jwk(), "kid": "provider-1"})
    async with (
        serving_over_http(_jwks_app(public_jwk), lifespan="off") as idp,
        serving_over_http(attacker_jwks, lifespan="off") as evil,
    ):
        tokens: dict[str, str] = {
            "HS256 keyed with the provider's public key (PEM)": _hmac_signed(
                {"alg": "HS256", "kid": "provider-1"}, _claims(), public_pem
            ),
            "HS256 keyed with the provider's JWK text": _hmac_signed(
                {"alg": "HS256", "kid": "provider-1"}, _claims(), json.dumps(public_jwk).encode()
            ),
            "alg none with the provider's kid": _segments(
                {"alg": "none", "kid": "provider-1"}, _claims()
            )
            + ".",
            "RS256 by an attacker's key, the provider's kid": rs256(_claims(), ATTACKER_RSA),
            "RS256 by an attacker's key, pointing at its JWKS (jku)": rs256(
                _claims(), ATTACKER_RSA, jku=f"{evil}/jwks"
            ),
            "RS256 by an attacker's key, carrying its jwk": rs256(
                _claims(), ATTACKER_RSA, jwk=_attacker_jwk()
            ),
            "RS256 with an unknown kid": jwt.encode(
                _claims(), ATTACKER_RSA, algorithm="RS256", headers={"kid": "../../etc/passwd"}
            ),
            "HS256 with the shared-secret of the HMAC stack": _hs256(_claims()),
            "provider-signed, wrong audience": rs256(_claims(aud="another-app")),
            "provider-signed, expired": rs256(_claims(exp=int(time.time()) - 3600)),
            "provider-signed, bad signature": _tamper_signature(rs256(_claims())),
        }
        app = parts.tickets(tmp_path, jwt_secret=None, jwt_jwks_url=f"{idp}/jwks")
        async with serving(app) as client:
            control = await _probe(client, "/v1/tickets", rs256(_claims()))
            assert control.status_code == 200, control.text
            accepted = [
                case
                for case, token in tokens.items()
                if (await _probe(client, "/v1/tickets", token)).status_code < 400
            ]

    print(f"\nJWT [tickets, JWKS]: {len(tokens)} crafted tokens, {len(accepted)} accepted")
    assert accepted == []


async def test_the_gateway_rate_limits_a_crafted_token_by_address_not_by_its_subject(
    tmp_path: Path,
) -> None:
    """Only a verified subject gets a bucket of its own; every crafted one shares the address's."""
    app = parts.gateway(tmp_path, rate_limit_burst=1, rate_limit_per_second=0.001)
    crafted = hmac_stack_tokens()
    # Genuinely signed: its subject is real, even if its roles open nothing.
    del crafted["unknown roles only"]
    async with serving(app) as client:
        statuses = [
            (await _probe(client, "/v1/tickets", token)).status_code for token in crafted.values()
        ]
    # The first reaches the (absent) service: 502; all the others share its bucket: 429.
    assert statuses[0] == 502
    assert set(statuses[1:]) == {429}
