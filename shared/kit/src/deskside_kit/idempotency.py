"""`Idempotency-Key` for POSTs that create: a retried request never creates twice.

The same key with the same body replays the first response; with another
body it is a 422; while the first request is still being worked on, a 409.

A key is claimed in a transaction of its own, committed at once, so a
concurrent duplicate sees the claim. The response is stored in the request's
own transaction, with the resource it created: both commit or neither does.
A failed request gives its claim back, later if the database is out of reach
just then (`ClaimsToGiveBack`); a claim left by a crashed process is taken over
once it is older than `ABANDONED_AFTER`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy import JSON, Column, Text, delete, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_kit.auth import CurrentPrincipal
from deskside_kit.background import Wakeup
from deskside_kit.database import (
    RETRY_AFTER_SECONDS,
    Session,
    Sessions,
    UtcDateTime,
    has_connection,
    if_request_fails,
    utc_now,
)
from deskside_kit.problems import Conflict, Unprocessable

logger = logging.getLogger("deskside.idempotency")

ABANDONED_AFTER = timedelta(minutes=5)
# A claim a failed request could not give back is tried again this often: half the
# `Retry-After` of the 503 that request got, so that a retry after the database's
# return mostly finds it gone (else its 409 asks to come back in a second).
GIVE_BACK_INTERVAL_SECONDS = RETRY_AFTER_SECONDS / 2
KEPT_FOR = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"
# Only these response headers are stored and replayed.
_REPLAYED_HEADERS = ("location", "etag")


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    # Keys are the caller's own: two callers may pick the same one.
    owner: str = Field(primary_key=True, max_length=255)
    key: str = Field(primary_key=True, max_length=255)
    operation: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int | None = Field(default=None)
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    response_headers: dict[str, str] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )


class IdempotencyKeyReused(Unprocessable):
    slug = "idempotency-key-reused"
    title = "Idempotency key reused"


class IdempotencyKeyInFlight(Conflict):
    slug = "idempotency-key-in-flight"
    title = "Request already in progress"


class ClaimsToGiveBack:
    """Claims that failed requests could not give back, given back once the database answers.

    A request that failed because the database went out of reach cannot delete
    its claim either. The claim then stayed until it counted as abandoned, and
    for five minutes every retry with its key was told that the first request
    was still in progress, long after the database was back. One per process,
    in memory: should the process end too, the claim is abandoned as before.
    """

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._claims: dict[tuple[str, str], datetime] = {}
        self.added = Wakeup()

    def add(self, owner: str, key: str, claimed_at: datetime) -> None:
        self._claims[(owner, key)] = claimed_at
        self.added.wake()

    def __len__(self) -> int:
        return len(self._claims)

    async def give_back(self) -> None:
        """One round: delete each claim still held, unless the database is still away."""
        for (owner, key), claimed_at in list(self._claims.items()):
            if utc_now() - claimed_at < ABANDONED_AFTER:
                try:
                    async with self._sessions.write_transaction() as session:
                        await session.exec(_delete_claim(owner, key, claimed_at))
                except (OSError, SQLAlchemyError) as error:
                    logger.warning(
                        "%d Idempotency-Key claims to give back once the database answers: %s",
                        len(self._claims),
                        error,
                    )
                    return
            # Given back, or old enough that any retry takes it over anyway; unless the
            # key was claimed and left again while the delete ran.
            if self._claims.get((owner, key)) == claimed_at:
                del self._claims[(owner, key)]


class Idempotency:
    """What a handler sees: `await claim(body)`, then `remember(...)` on success."""

    def __init__(
        self,
        *,
        key: str | None,
        owner: str,
        operation: str,
        sessions: Sessions,
        session: Any,
        give_back_later: ClaimsToGiveBack,
    ) -> None:
        self.key = key
        self.owner = owner
        self.operation = operation
        self._sessions = sessions
        self._session: AsyncSession = session
        self._give_back_later = give_back_later
        # When this request's claim was made: it is the claim's identity, so that a
        # claim given back late never deletes another request's claim of the key.
        self._claimed_at: datetime | None = None

    async def claim(self, body: BaseModel) -> Response | None:
        """Claim the key for this request; or the stored response to replay instead."""
        if self.key is None:
            return None
        if has_connection(self._session):
            # The claim takes a pooled connection of its own: a request already holding
            # one would hold two at once, and ten such requests could starve the pool.
            raise RuntimeError("claim the Idempotency-Key before the request's first statement")
        request_hash = request_fingerprint(self.operation, body)
        claimed_at = utc_now()
        async with self._sessions.writing() as claims:
            claims.add(
                IdempotencyKey(
                    owner=self.owner,
                    key=self.key,
                    operation=self.operation,
                    request_hash=request_hash,
                    created_at=claimed_at,
                )
            )
            try:
                await claims.commit()
                self._claimed_at = claimed_at
                return None
            except IntegrityError:
                await claims.rollback()
            existing = (
                await claims.exec(
                    select(IdempotencyKey).where(
                        col(IdempotencyKey.owner) == self.owner,
                        col(IdempotencyKey.key) == self.key,
                    )
                )
            ).one()
            age = utc_now() - existing.created_at
            if age >= KEPT_FOR:
                # Expired, though not purged yet: the key is free again, for any body.
                await self._take_over(claims, existing, request_hash)
                return None
            if existing.request_hash != request_hash:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used with another request; use a new key."
                )
            if existing.status_code is not None:
                return _replay(existing)
            if age < ABANDONED_AFTER:
                raise IdempotencyKeyInFlight(
                    "A request with this Idempotency-Key is still in progress; retry later.",
                    headers={"Retry-After": "1"},
                )
            # Left by a process that died mid-request.
            await self._take_over(claims, existing, request_hash)
            return None

    async def _take_over(
        self, claims: AsyncSession, existing: IdempotencyKey, request_hash: str
    ) -> None:
        """Claim a stored key afresh, unless another request just did.

        The `created_at` comparison makes this a compare-and-set: of two
        retries racing for the same abandoned or expired key, one wins.
        """
        claimed_at = utc_now()
        taken = await claims.exec(
            update(IdempotencyKey)
            .where(
                col(IdempotencyKey.owner) == self.owner,
                col(IdempotencyKey.key) == self.key,
                col(IdempotencyKey.created_at) == existing.created_at,
            )
            .values(
                created_at=claimed_at,
                request_hash=request_hash,
                status_code=None,
                response_body=None,
                response_headers=None,
            )
        )
        await claims.commit()
        if taken.rowcount != 1:
            raise IdempotencyKeyInFlight(
                "A request with this Idempotency-Key is still in progress; retry later.",
                headers={"Retry-After": "1"},
            )
        self._claimed_at = claimed_at

    async def remember(self, status_code: int, body: BaseModel, headers: dict[str, str]) -> None:
        """Store the response in the request's transaction, beside what it created."""
        if self._claimed_at is None:
            return
        stored_headers = {
            name.lower(): value
            for name, value in headers.items()
            if name.lower() in _REPLAYED_HEADERS
        }
        await self._session.exec(
            update(IdempotencyKey)
            .where(col(IdempotencyKey.owner) == self.owner, col(IdempotencyKey.key) == self.key)
            .values(
                status_code=status_code,
                response_body=body.model_dump_json(),
                response_headers=stored_headers,
            )
            # Only the key's row: what the request created is left for its commit,
            # where it goes in one statement with the audit record (`insert_new`).
            .execution_options(autoflush=False)
        )

    async def release(self) -> None:
        """Give the claim back after a failed request, so a retry can run."""
        if self._claimed_at is None or self.key is None:
            return
        try:
            # The request's own transaction is rolled back first: on SQLite it may
            # hold the write lock this delete needs.
            await self._session.rollback()
            await self._session.exec(_delete_claim(self.owner, self.key, self._claimed_at))
            await self._session.commit()
        except (OSError, SQLAlchemyError):
            # Most likely what failed the request: the database out of reach.
            self._give_back_later.add(self.owner, self.key, self._claimed_at)
            logger.warning("Idempotency-Key claim to be given back once the database answers")


def _delete_claim(owner: str, key: str, claimed_at: datetime) -> Any:
    return delete(IdempotencyKey).where(
        col(IdempotencyKey.owner) == owner,
        col(IdempotencyKey.key) == key,
        col(IdempotencyKey.created_at) == claimed_at,
        col(IdempotencyKey.status_code).is_(None),
    )


def request_fingerprint(operation: str, body: BaseModel) -> str:
    """What makes two requests "the same": the operation and the validated body."""
    canonical = json.dumps(
        [operation, body.model_dump(mode="json")], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(stored: IdempotencyKey) -> Response:
    assert stored.status_code is not None
    headers = dict(stored.response_headers or {})
    headers[REPLAYED_HEADER] = "true"
    return Response(
        content=stored.response_body or "",
        status_code=stored.status_code,
        headers=headers,
        media_type="application/json",
    )


async def _idempotency(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            description="Makes a retried create safe: the same key and body replay the "
            "first response.",
        ),
    ] = None,
) -> Idempotency:
    # The route's path template; the URL (parsed only if needed) for a request no route took.
    path = getattr(request.scope.get("route"), "path", None) or request.url.path
    operation = f"{request.method} {path}"
    idempotency = Idempotency(
        key=idempotency_key or None,
        owner=principal.sub,
        operation=operation,
        sessions=request.app.state.sessions,
        session=session,
        give_back_later=request.app.state.claims_to_give_back,
    )
    # Not an `except` around the yield: the request's commit comes after this
    # dependency has finished, and a claim must be given back if that fails too.
    if_request_fails(request.scope, idempotency.release)
    return idempotency


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency, scope="function")]


async def purge_expired_keys(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete keys older than KEPT_FOR; returns how many went."""
    cutoff = (now or utc_now()) - KEPT_FOR
    result = await session.exec(
        delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < cutoff)
    )
    return int(result.rowcount or 0)
