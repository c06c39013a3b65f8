"""Request ids, access logs and Prometheus metrics, in one pure ASGI middleware.

Pure ASGI rather than `BaseHTTPMiddleware`: that one buffers streamed bodies
and runs the app in another task, which loses context variables such as the
request id.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as render_metrics
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskside_kit.context import REQUEST_ID_HEADER, accept_request_id, request_id_var
from deskside_kit.problems import problem_response

access_logger = logging.getLogger("deskside.access")

_REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode()


class Metrics:
    """The HTTP metrics of one app, in a registry of its own (tests build many apps)."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from request to the end of the response.",
            ["service", "method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        # Saturation at a glance: a replica whose count keeps climbing is taking requests
        # faster than it answers them. Clients that gave up still count until answered.
        self.in_progress = Gauge(
            "http_requests_in_progress",
            "Requests received and not yet answered, the one reading this included.",
            ["service"],
            registry=self.registry,
        ).labels(service)
        self.service = service

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(self.service, method, route, str(status)).inc()
        self.latency.labels(self.service, method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return render_metrics(self.registry), CONTENT_TYPE_LATEST


def route_template(scope: Scope) -> str:
    # The matched route's template, never the raw path: raw paths carry ids and
    # would give every ticket a time series of its own.
    route = scope.get("route")
    path_format = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path_format) if path_format else "unmatched"


class ObservabilityMiddleware:
    """Gives each request an id, echoes it, logs the request and counts it."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, route_label: Any = None) -> None:
        self.app = app
        self.metrics = metrics
        # The gateway labels by upstream rather than by route template.
        self.route_label = route_label or route_template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID_HEADER_BYTES:
                incoming = value.decode("latin-1")
                break
        request_id = accept_request_id(incoming)
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != _REQUEST_ID_HEADER_BYTES
                ]
                headers.append((_REQUEST_ID_HEADER_BYTES, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            # Handled here, inside the request id's context, rather than by
            # Starlette's outermost error middleware, which runs after it is gone.
            access_logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not response_started:
                response = problem_response(
                    500,
                    detail="An unexpected error occurred. Quote the request id when reporting it.",
                    instance=scope["path"],
                )
                await response(scope, receive, send_with_request_id)
        finally:
            self.metrics.in_progress.dec()
            elapsed = time.perf_counter() - started
            route = self.route_label(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            access_logger.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": (scope.get("client") or ("", 0))[0],
                },
            )
            request_id_var.reset(token)
