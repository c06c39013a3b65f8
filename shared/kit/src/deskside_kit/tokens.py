"""Mint development tokens: `make token ROLE=agent SUB=alice EMAIL=alice@example.com`."""

from __future__ import annotations

import argparse
import time
from typing import Any

import jwt

from deskside_contracts.common import Role
from deskside_kit.settings import JwtSettings, load_settings


def mint_token(
    secret: str,
    *,
    sub: str,
    roles: list[str],
    email: str | None = None,
    name: str | None = None,
    tier: int | None = None,
    department: str | None = None,
    issuer: str = "deskside",
    audience: str = "deskside",
    lifetime_seconds: int = 12 * 3600,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "roles": roles,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime_seconds,
    }
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    if tier is not None:
        claims["tier"] = tier
    if department:
        claims["department"] = department
    return jwt.encode(claims, secret, algorithm="HS256")


def main() -> None:
    parser = argparse.ArgumentParser(description="Print a development JWT for the local stack.")
    parser.add_argument("--role", action="append", choices=[r.value for r in Role], default=None)
    parser.add_argument("--sub", default="dev-user")
    parser.add_argument("--email", default=None)
    parser.add_argument("--name", default=None)
    parser.add_argument("--tier", type=int, default=None)
    parser.add_argument("--department", default=None)
    parser.add_argument("--hours", type=float, default=12.0)
    args = parser.parse_args()

    settings = load_settings(JwtSettings)
    secret = settings.resolved_jwt_secret()
    if secret is None:
        parser.error("DESKSIDE_JWT_JWKS_URL is set: get tokens from your identity provider")
    print(
        mint_token(
            secret,
            sub=args.sub,
            roles=args.role or [Role.REQUESTER.value],
            email=args.email,
            name=args.name,
            tier=args.tier,
            department=args.department,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            lifetime_seconds=int(args.hours * 3600),
        )
    )


if __name__ == "__main__":
    main()
