"""Rate limiting at the gateway: a token bucket per caller.

A caller is the subject of a verified bearer token, or else the client's
address: a token that does not verify counts against the address it came
from, so inventing subjects buys nothing. Each bucket holds `burst` requests
and refills at `per_second`; a request finding it empty is answered 429 with
`Retry-After`, and every routed answer says where the caller stands in
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until
the bucket is full again).

Buckets live in the gateway's memory: with several gateway replicas each
counts its own share, which is why the limits are per replica.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import Counter
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskside_gateway.routing import route_for
from deskside_kit.problems import problem_response

# Past this many callers, the least recently seen are forgotten (they start
# again with a full bucket), so a flood of addresses cannot exhaust memory.
MAX_TRACKED_CALLERS = 100_000


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    # Seconds until one more request is allowed (0 when allowed now).
    retry_after: float
    # Seconds until the bucket is full again.
    reset: float


class TokenBuckets:
    """One bucket per key, refilled continuously; least recently used keys are dropped first."""

    def __init__(
        self,
        *,
        per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_TRACKED_CALLERS,
    ) -> None:
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        # key -> (tokens, when they were counted); insertion order is recency.
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> Decision:
        now = self._clock()
        tokens, counted_at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - counted_at) * self.per_second)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            del self._buckets[next(iter(self._buckets))]
        return Decision(
            allowed=allowed,
            remaining=math.floor(tokens),
            retry_after=0.0 if allowed else (1.0 - tokens) / self.per_second,
            reset=(self.burst - tokens) / self.per_second,
        )

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimitMiddleware:
    """Throttles routed requests (the services' APIs); the gateway's own endpoints are free."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        buckets: TokenBuckets,
        subject_of: Callable[[str], Awaitable[str | None]],
        trust_forwarded_headers: bool,
        refused: Counter,
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.subject_of = subject_of
        self.trust_forwarded_headers = trust_forwarded_headers
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_for(scope["path"]) is None:
            await self.app(scope, receive, send)
            return
        caller, kind = await self._caller(scope)
        decision = self.buckets.take(caller)
        limit_headers = {
            "RateLimit-Limit": str(self.buckets.burst),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(math.ceil(decision.reset)),
        }
        if not decision.allowed:
            self.refused.labels(kind).inc()
            wait = max(1, math.ceil(decision.retry_after))
            response = problem_response(
                429,
                detail=(
                    f"Too many requests: at most {self.buckets.burst} at once and "
                    f"{self.buckets.per_second:g} a second after that. Try again in {wait} s."
                ),
                headers={**limit_headers, "Retry-After": str(wait)},
            )
            await response(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in limit_headers.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_limits)

    async def _caller(self, scope: Scope) -> tuple[str, str]:
        """The bucket's key, and whether it is a subject or an address."""
        token = _bearer_token(scope)
        if token is not None and (subject := await self.subject_of(token)) is not None:
            return f"sub:{subject}", "subject"
        return f"ip:{self._client_address(scope)}", "address"

    def _client_address(self, scope: Scope) -> str:
        if self.trust_forwarded_headers:
            hops = Headers(scope=scope).getlist("x-forwarded-for")
            if hops:
                # The last hop is the one our own proxy added; earlier ones are
                # whatever the client chose to send.
                return hops[-1].rsplit(",", 1)[-1].strip()
        client = scope.get("client")
        return str(client[0]) if client else "unknown"


def _bearer_token(scope: Scope) -> str | None:
    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
