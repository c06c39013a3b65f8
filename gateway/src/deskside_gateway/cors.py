"""CORS at the gateway: which web pages may call the API from a browser.

The gateway is the only place CORS is decided: the proxy drops any
`Access-Control-*` header a service might send, and this middleware, outside
the rate limiter, the body limit and the proxy, answers for the whole API, so
the gateway's own refusals (413, 429, 502) stay readable by an allowed page.

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
  is answered here and never reaches a service. From an allowed origin: 204
  with the methods and headers the API accepts; the browser compares them
  with what the page asked for and names any header it would not be allowed
  to send. From any other origin: a 403 problem with no CORS header at all,
  so the browser blocks the call and a person reading the network panel or
  curl's output sees why (Spring's choice; Starlette answers a plain-text
  400 that still lists the allowed methods).
- Any other request from an allowed origin gets `Access-Control-Allow-Origin`
  (that origin, or `*` when every origin is allowed), the exposed headers
  and, when switched on, `Access-Control-Allow-Credentials`. From another
  origin it gets no CORS header: the browser keeps the answer from the page.
- With a list of origins every answer carries `Vary: Origin`, so a cache
  never hands one origin's answer to another.

Starlette's CORSMiddleware was the first candidate; it sends the allowed
methods and headers, and the exposed headers and the credentials flag, to
origins it refuses, and answers a refused preflight in plain text.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskside_kit.problems import PROBLEM_TYPE_BASE, problem_response

ANY_ORIGIN = "*"
# What the API accepts: GET, HEAD and POST need no preflight, but naming them is harmless.
ALLOWED_METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE")
ALLOWED_HEADERS = (
    "Accept",
    "Accept-Language",
    "Authorization",
    "Content-Language",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "X-Request-ID",
)
# What the API sends that a page could not otherwise read (RFC 9457 bodies it can).
EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Idempotent-Replayed",
    "WWW-Authenticate",
)
CORS_REFUSED = PROBLEM_TYPE_BASE + "cors-origin-not-allowed"


@dataclass(frozen=True)
class CorsPolicy:
    """Which origins may call, and what their pages may send and read."""

    origins: frozenset[str] = frozenset()
    allow_credentials: bool = False
    max_age: int = 600
    methods: tuple[str, ...] = ALLOWED_METHODS
    headers: tuple[str, ...] = ALLOWED_HEADERS
    exposed: tuple[str, ...] = EXPOSED_HEADERS

    def __post_init__(self) -> None:
        if self.any_origin and self.allow_credentials:
            # The Fetch standard refuses `*` with credentials; echoing every origin
            # instead would let any site act with a person's cookies.
            raise ValueError("credentials cannot be allowed for every origin")

    @property
    def any_origin(self) -> bool:
        return ANY_ORIGIN in self.origins

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins

    @property
    def varies_by_origin(self) -> bool:
        """Whether an answer depends on the caller's `Origin` (a list, not `*` or nothing)."""
        return bool(self.origins) and not self.any_origin

    def allow_origin_value(self, origin: str) -> str:
        return ANY_ORIGIN if self.any_origin else origin


class CorsMiddleware:
    """Answers preflights and labels answers to allowed origins (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy
        self._preflight_headers = {
            "Access-Control-Allow-Methods": ", ".join(policy.methods),
            "Access-Control-Allow-Headers": ", ".join(policy.headers),
            "Access-Control-Max-Age": str(policy.max_age),
        }
        self._simple_headers = {"Access-Control-Expose-Headers": ", ".join(policy.exposed)}
        if policy.allow_credentials:
            self._preflight_headers["Access-Control-Allow-Credentials"] = "true"
            self._simple_headers["Access-Control-Allow-Credentials"] = "true"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        if (
            origin is not None
            and scope["method"] == "OPTIONS"
            and "access-control-request-method" in request_headers
        ):
            response = self._preflight(origin, scope["path"])
            await response(scope, receive, send)
            return

        added: dict[str, str] = {}
        if origin is not None and self.policy.allows(origin):
            added = {
                "Access-Control-Allow-Origin": self.policy.allow_origin_value(origin),
                **self._simple_headers,
            }
        if not added and not self.policy.varies_by_origin:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added.items():
                    headers[name] = value
                if self.policy.varies_by_origin:
                    headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _preflight(self, origin: str, path: str) -> Response:
        vary = {"Vary": "Origin"} if self.policy.varies_by_origin else {}
        if not self.policy.allows(origin):
            return problem_response(
                403,
                detail=f"Pages from {origin} may not call this API from a browser.",
                problem_type=CORS_REFUSED,
                instance=path,
                headers=vary,
            )
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": self.policy.allow_origin_value(origin),
                **self._preflight_headers,
                **vary,
            },
        )
