"""Token verification: pinned algorithms, issuer, audience, expiry, HS256 and JWKS."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from deskside_contracts.common import Role
from deskside_kit.auth import TokenVerifier
from deskside_kit.problems import NotAuthenticated

SECRET = "s" * 64  # long enough for HS512 too, so only the pinning refuses it


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "sub": "alice",
        "roles": ["requester", "agent", "some-other-app-role"],
        "email": "alice@example.com",
        "name": "Alice",
        "tier": 2,
        "iss": "deskside",
        "aud": "deskside",
        "exp": int(time.time()) + 600,
    }
    return {**base, **overrides}


@pytest.fixture
def verifier() -> TokenVerifier:
    return TokenVerifier(issuer="deskside", audience="deskside", secret=SECRET)


class TestHmacTokens:
    async def test_a_good_token_gives_the_principal(self, verifier: TokenVerifier) -> None:
        principal = await verifier.verify(jwt.encode(claims(), SECRET, algorithm="HS256"))

        assert principal.sub == "alice"
        assert principal.roles == frozenset({Role.REQUESTER, Role.AGENT})
        assert principal.tier == 2
        assert principal.is_staff

    @pytest.mark.parametrize(
        ("lifetime", "remembered_for"),
        # Until `exp` plus the 30 s leeway every check allows; and never over a minute.
        [(20, 50.0), (600, 60.0)],
    )
    async def test_a_verified_token_is_remembered_until_it_must_be_checked_again(
        self,
        verifier: TokenVerifier,
        monkeypatch: pytest.MonkeyPatch,
        lifetime: int,
        remembered_for: float,
    ) -> None:
        now = time.time()
        token = jwt.encode(claims(exp=int(now) + lifetime), SECRET, algorithm="HS256")
        await verifier.verify(token)
        checks = 0
        real_decode = jwt.decode

        def counting_decode(*args: Any, **kwargs: Any) -> Any:
            nonlocal checks
            checks += 1
            return real_decode(*args, **kwargs)

        monkeypatch.setattr(jwt, "decode", counting_decode)
        monotonic_now = time.monotonic()

        def clocks_at(offset: float) -> None:
            # The expiry follows the wall clock; the minute, a monotonic one.
            monkeypatch.setattr(time, "time", lambda: now + offset)
            monkeypatch.setattr(time, "monotonic", lambda: monotonic_now + offset)

        clocks_at(remembered_for - 1.5)
        assert (await verifier.verify(token)).sub == "alice"
        assert checks == 0
        clocks_at(remembered_for + 0.5)
        assert (await verifier.verify(token)).sub == "alice"
        assert checks == 1

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"exp": int(time.time()) - 3600}, "expired"),
            ({"aud": "someone-else"}, "audience"),
            ({"iss": "evil"}, "issuer"),
            ({"sub": None}, "'sub'"),
            ({"sub": "  "}, "'sub' claim is empty"),
        ],
    )
    async def test_bad_claims_are_refused_with_the_reason(
        self, verifier: TokenVerifier, changes: dict[str, Any], reason: str
    ) -> None:
        token_claims = {k: v for k, v in claims(**changes).items() if v is not None}

        with pytest.raises(NotAuthenticated, match=reason):
            await verifier.verify(jwt.encode(token_claims, SECRET, algorithm="HS256"))

    async def test_other_algorithms_are_refused(self, verifier: TokenVerifier) -> None:
        unsigned = jwt.encode(claims(), None, algorithm="none")
        stronger_but_unpinned = jwt.encode(claims(), SECRET, algorithm="HS512")

        for token in (unsigned, stronger_but_unpinned, "not.a.jwt", ""):
            with pytest.raises(NotAuthenticated):
                await verifier.verify(token)


class TestJwksTokens:
    async def test_keys_come_from_the_jwks_and_rotate(self) -> None:
        old_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        published = {"keys": [_public_jwk(old_key, "old")]}
        jwks_app = FastAPI()
        fetches = 0

        @jwks_app.get("/jwks")
        async def serve_jwks() -> dict[str, Any]:
            nonlocal fetches
            fetches += 1
            return published

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=jwks_app), base_url="http://idp"
        ) as http:
            verifier = TokenVerifier(
                issuer="deskside", audience="deskside", jwks_url="http://idp/jwks", http_client=http
            )
            old_token = jwt.encode(claims(), old_key, algorithm="RS256", headers={"kid": "old"})
            assert (await verifier.verify(old_token)).sub == "alice"

            # A token signed with the HS256 "secret" being the public key must not pass.
            hmac_token = jwt.encode(claims(), SECRET, algorithm="HS256", headers={"kid": "old"})
            with pytest.raises(NotAuthenticated):
                await verifier.verify(hmac_token)

            published["keys"].append(_public_jwk(new_key, "new"))
            verifier._jwks_fetched_at -= 60  # past the minimum interval between refetches
            new_token = jwt.encode(
                claims(sub="bob"), new_key, algorithm="RS256", headers={"kid": "new"}
            )
            assert (await verifier.verify(new_token)).sub == "bob"
            assert fetches == 2


def _public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}
