"""Request ids, request logs and Prometheus metrics as one pure-ASGI middleware.

Pure ASGI rather than `BaseHTTPMiddleware`: it adds no task or stream per request, which is
measurable on the hot paths.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopcommon.http import header_text
from shopcommon.logging import REQUEST_ID_HEADER, new_request_id, request_id_var

log = logging.getLogger("shopcommon.request")
_RID_HEADER = REQUEST_ID_HEADER.lower().encode()
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.service = service


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # The labelled series, looked up once each: `labels()` validates and locks on every call.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        series = self._series.get((method, route, status))
        if series is None:
            series = (
                self.metrics.requests.labels(method, route, str(status)),
                self.metrics.latency.labels(method, route),
            )
            self._series[(method, route, status)] = series
        series[0].inc()
        series[1].observe(elapsed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for key, value in scope["headers"]:
            if key == _RID_HEADER:
                # Kept when it can go on in headers to other services; else replaced by a new one.
                rid = header_text(value[:128].decode("latin-1"), 128)
                break
        rid = rid or new_request_id()
        token = request_id_var.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (_RID_HEADER, rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self._observe(method, route_path, status, elapsed)
            if scope["path"] not in _QUIET_PATHS and (status >= 400 or log.isEnabledFor(logging.DEBUG)):
                log.info(
                    "%s %s -> %s",
                    method,
                    # A path that carries a secret (a cancel link's token) is logged as its route.
                    route_path if "{token" in route_path else scope["path"],
                    status,
                    extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
                )
            request_id_var.reset(token)
