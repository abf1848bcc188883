"""Prometheus metrics in a registry owned by one app (no process-global registry).

Business code counts predictions with `request.app.state.metrics.predictions.labels(source="model").inc(n)`.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PREDICTION_SOURCES = ("model", "fallback")
UNMATCHED = "<unmatched>"  # one label for every unknown path, so scanners cannot inflate the series count


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "eta_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ("method", "route", "status"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "eta_predictions", "Predictions served, by prediction source", ("source",), registry=self.registry
        )
        for source in PREDICTION_SOURCES:
            self.predictions.labels(source=source)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Times every HTTP request; the route label is the matched route's template (`/v1/shipments/{id}`)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            self.metrics.request_seconds.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - start
            )
