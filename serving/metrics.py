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


def route_label(scope: Scope) -> str:
    """The matched route's template, with the prefix it was included under (`include_router(prefix=...)`
    leaves that prefix out of the route's own path): `/v1/shipments/{shipment_id}`, never the raw path."""
    template = getattr(scope.get("route"), "path", None)
    if template is None:
        return UNMATCHED
    if ":path}" in template:  # a template spanning several segments: its prefix cannot be counted off
        return template
    parts = scope["path"].split("/")
    return "/".join(parts[: max(len(parts) - template.count("/"), 0)]) + template


class MetricsMiddleware:
    """Times every HTTP request by method, route template and status."""

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
            self.metrics.request_seconds.labels(scope["method"], route_label(scope), str(status)).observe(
                time.perf_counter() - start
            )
