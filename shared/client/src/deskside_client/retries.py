"""When the client tries a request again, and how long it waits in between.

What is retried depends on whether a second copy of the request can do harm:

- reads (`GET`, `HEAD`) and idempotent writes (`PUT`, `DELETE`), and creates
  that carry an `Idempotency-Key`: on any transport error, on 429, and on 502,
  503 and 504; a keyed create also on the 409 that says its first copy is
  still being worked on;
- everything else (state changes, comments, `PATCH`): only when the request
  surely never reached a service: the connection could not be opened, or the
  gateway's rate limit refused it (429).

A `DELETE` that answers 404 on a retry is taken as done: the try whose answer
was lost deleted it.

Waits grow exponentially with jitter and are capped; a `Retry-After`
header is honoured (up to `max_retry_after`, beyond which the error is raised).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
IN_FLIGHT_PROBLEM = "urn:deskside:problem:idempotency-key-in-flight"


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` more tries after the first; waits from `backoff` up to `max_backoff` seconds."""

    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        # Jittered (half the ceiling to all of it): clients that failed together come back apart.
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311  (timing, not secrecy)


NO_RETRIES = RetryPolicy(retries=0)
