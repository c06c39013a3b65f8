"""Bearer-token verification, done by every service itself.

Tokens are JWTs. The key is an HS256 secret (embedded default) or the JWKS of
the organisation's OpenID Connect provider (production). Algorithms are
pinned, and `exp`, `iss` and `aud` are always checked, so any standard JWT
library holding the same key can mint a working token.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from deskside_contracts.common import Role
from deskside_kit.problems import Forbidden, NotAuthenticated
from deskside_kit.settings import JwtSettings

logger = logging.getLogger("deskside.auth")

HMAC_ALGORITHMS = ["HS256"]
JWKS_ALGORITHMS = ["RS256", "ES256", "PS256"]
_JWKS_REFRESH_SECONDS = 300.0
_JWKS_MIN_REFETCH_SECONDS = 10.0
_LEEWAY_SECONDS = 30
# Tokens verified lately are remembered, so a client's every request does not pay for the
# signature check again (about a twentieth of a ticket read's CPU). An entry lasts until
# its token expires or this many seconds pass, whichever is first. A key rotated out of
# the JWKS therefore stops working within this time after the key set is next fetched
# (every 300 s, or at once when a token names a key it lacks).
_VERIFIED_SECONDS = 60.0
_VERIFIED_TOKENS = 1024


class Principal(BaseModel):
    """Who is calling, as their verified token says."""

    model_config = ConfigDict(frozen=True)

    sub: str
    email: str | None = None
    name: str | None = None
    roles: frozenset[Role] = frozenset()
    tier: int | None = None
    # The organisational unit the identity provider puts the person in, when it says:
    # inventory reports can be narrowed to a department's people.
    department: str | None = None
    # True only for a caller that presented the service credential. Never set
    # from a token, so no identity provider's subject can pass for a service.
    is_deskside_service: bool = False

    def has_role(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_staff(self) -> bool:
        """Agents and admins see every ticket and device; requesters only their own."""
        return self.has_role(Role.AGENT, Role.ADMIN)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    raw_roles = claims.get("roles", [])
    if isinstance(raw_roles, str):
        raw_roles = raw_roles.split()
    known = {role.value for role in Role}
    tier = claims.get("tier")
    return Principal(
        sub=str(claims["sub"]),
        email=claims.get("email") if isinstance(claims.get("email"), str) else None,
        name=claims.get("name") if isinstance(claims.get("name"), str) else None,
        # Unknown roles are dropped, not refused: an IdP may carry roles of other apps.
        roles=frozenset(Role(role) for role in raw_roles if role in known),
        tier=tier if isinstance(tier, int) and not isinstance(tier, bool) else None,
        department=_short_text(claims.get("department")),
    )


def _short_text(value: Any) -> str | None:
    """A claim kept only when it is a sensible label: a string of 1 to 100 characters."""
    if isinstance(value, str) and 0 < len(value.strip()) <= 100:
        return value.strip()
    return None


class TokenVerifier:
    """Verifies bearer tokens against an HS256 secret or a JWKS."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        secret: str | None = None,
        jwks_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if (secret is None) == (jwks_url is None):
            raise ValueError("give exactly one of a secret or a JWKS URL")
        self.issuer = issuer
        self.audience = audience
        self._secret = secret
        self._jwks_url = jwks_url
        self._http = http_client
        self._jwks: jwt.PyJWKSet | None = None
        self._jwks_fetched_at = 0.0
        self._jwks_lock = asyncio.Lock()
        # token -> (its principal, its expiry by the wall clock with the leeway, and a
        # monotonic deadline, so that setting the clock back cannot stretch the minute)
        self._verified: dict[str, tuple[Principal, float, float]] = {}

    @classmethod
    def from_settings(cls, settings: JwtSettings) -> TokenVerifier:
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            secret=settings.resolved_jwt_secret(),
            jwks_url=settings.jwt_jwks_url,
        )

    async def subject(self, token: str) -> str | None:
        """The subject of a token that verifies, else None."""
        try:
            return (await self.verify(token)).sub
        except NotAuthenticated:
            return None

    async def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, expires, recheck_at = remembered
            if time.time() < expires and time.monotonic() < recheck_at:
                return principal
            del self._verified[token]
        try:
            if self._secret is not None:
                key: Any = self._secret
                algorithms = HMAC_ALGORITHMS
            else:
                key = await self._signing_key(token)
                algorithms = JWKS_ALGORITHMS
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
                leeway=_LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("The token has expired.") from None
        except jwt.InvalidAudienceError:
            raise NotAuthenticated(f"The token's audience is not {self.audience!r}.") from None
        except jwt.InvalidIssuerError:
            raise NotAuthenticated(f"The token's issuer is not {self.issuer!r}.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise NotAuthenticated(f"The token has no {exc.claim!r} claim.") from None
        except jwt.PyJWTError:
            raise NotAuthenticated(
                "The token is malformed or its signature does not verify."
            ) from None
        if not str(claims["sub"]).strip():
            # An empty subject would be everyone's and no one's: owner checks compare it.
            raise NotAuthenticated("The token's 'sub' claim is empty.")
        principal = principal_from_claims(claims)
        # An int, as the check itself compares it.
        self._remember(token, principal, expires_at=int(claims["exp"]))
        return principal

    def _remember(self, token: str, principal: Principal, *, expires_at: int) -> None:
        if len(self._verified) >= _VERIFIED_TOKENS:
            del self._verified[next(iter(self._verified))]  # the oldest: dicts keep order
        self._verified[token] = (
            principal,
            expires_at + _LEEWAY_SECONDS,
            time.monotonic() + _VERIFIED_SECONDS,
        )

    async def _signing_key(self, token: str) -> Any:
        key_id = jwt.get_unverified_header(token).get("kid")
        keys = await self._key_set(refresh=False)
        match = _find_key(keys, key_id)
        if match is None:
            # The provider may have rotated its keys since we last looked.
            match = _find_key(await self._key_set(refresh=True), key_id)
        if match is None:
            raise jwt.InvalidKeyError(f"no key {key_id!r} in the JWKS")
        return match.key

    async def _key_set(self, *, refresh: bool) -> jwt.PyJWKSet:
        async with self._jwks_lock:
            age = time.monotonic() - self._jwks_fetched_at
            stale = self._jwks is None or age > _JWKS_REFRESH_SECONDS
            if stale or (refresh and age > _JWKS_MIN_REFETCH_SECONDS):
                assert self._jwks_url is not None
                client = self._http or httpx.AsyncClient(timeout=5.0)
                try:
                    response = await client.get(self._jwks_url)
                    response.raise_for_status()
                    self._jwks = jwt.PyJWKSet.from_dict(response.json())
                    self._jwks_fetched_at = time.monotonic()
                except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
                    logger.warning("could not fetch the JWKS: %s", exc)
                    if self._jwks is None:
                        raise jwt.InvalidKeyError("the JWKS is unavailable") from exc
                finally:
                    if self._http is None:
                        await client.aclose()
            assert self._jwks is not None
            return self._jwks


def _find_key(keys: jwt.PyJWKSet, key_id: Any) -> jwt.PyJWK | None:
    for key in keys.keys:
        if key_id is None or key.key_id == key_id:
            return key
    return None


# auto_error=False: a missing header must become our 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="A JWT from your identity provider.")


# Where a request's verified caller is left in its scope state, for the audit trail.
PRINCIPAL_KEY = "deskside_principal"

SERVICE_TOKEN_HEADER = "X-Deskside-Service-Token"  # noqa: S105  (a header name)
# Another Deskside service calling with the shared service credential. The
# public gateway strips the header, so only callers inside the stack have it.
SERVICE_PRINCIPAL = Principal(
    sub="deskside-service", roles=frozenset({Role.INTEGRATION}), is_deskside_service=True
)


async def _current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    service_token = request.headers.get(SERVICE_TOKEN_HEADER)
    if service_token is not None:
        expected: str | None = request.app.state.service_token
        if expected is None or not hmac.compare_digest(service_token, expected):
            raise NotAuthenticated(f"The {SERVICE_TOKEN_HEADER} is not valid.")
        principal = SERVICE_PRINCIPAL
    else:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise NotAuthenticated("Send `Authorization: Bearer <token>`.")
        verifier: TokenVerifier = request.app.state.token_verifier
        principal = await verifier.verify(credentials.credentials)
    setattr(request.state, PRINCIPAL_KEY, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_current_principal)]


async def _service_caller(principal: CurrentPrincipal) -> Principal:
    if not principal.is_deskside_service:
        raise Forbidden(f"Only Deskside services call this, with the {SERVICE_TOKEN_HEADER}.")
    return principal


# `/internal/*` endpoints: other Deskside services only, never a person or an integration.
ServiceCaller = Annotated[Principal, Depends(_service_caller)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only callers with one of `roles`."""
    allowed = ", ".join(sorted(role.value for role in roles))

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(*roles):
            raise Forbidden(f"This needs one of the roles: {allowed}.")
        return principal

    return check
