"""Tokens for tests, made with PyJWT exactly as any integration would."""

from __future__ import annotations

from deskside_kit.tokens import mint_token

TEST_JWT_SECRET = "test-secret-for-deskside-tests-0123456789abcdef"


def bearer(
    sub: str,
    *roles: str,
    email: str | None = None,
    name: str | None = None,
    department: str | None = None,
) -> dict[str, str]:
    """`Authorization` header for `sub` with `roles` (a requester when none are given)."""
    token = mint_token(
        TEST_JWT_SECRET,
        sub=sub,
        roles=list(roles) or ["requester"],
        email=email if email is not None else f"{sub}@example.com",
        name=name,
        department=department,
    )
    return {"Authorization": f"Bearer {token}"}
