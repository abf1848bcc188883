"""The dispatcher: delivers pending webhooks at least once, records every attempt.

Each round claims a batch of due deliveries in a short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so
several dispatchers share the work without taking the same rows; SQLite: its single writer serialises the
claims) and pushes each claimed row's next attempt a lease ahead. The requests go out with no transaction
open; the results are then recorded together. A dispatcher killed between the claim and the record loses
nothing: its rows come due again when the lease runs out and are sent again with the same `webhook-id`.

A 2xx delivers; a 410 disables the endpoint; anything else (or no answer) is retried with exponential
backoff and jitter, or after the receiver's `Retry-After`, until the delivery is older than the dead-letter
age. The target's addresses are resolved and checked again before every request, and the request goes to
the checked address (the TLS name stays the host's), so a DNS change cannot point it somewhere internal.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from serving.db.tables import Delivery, DeliveryAttempt, Notification, WebhookEndpoint
from serving.notify.outbox import DEAD, DELIVERED, DISABLED, PENDING
from serving.notify.signing import headers
from serving.notify.urls import UnsafeUrl, check
from serving.settings import Settings

logger = logging.getLogger(__name__)
MAX_RETRY_AFTER_S = 86_400.0
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Job:
    delivery_id: int
    message_id: str
    body: str
    url: str
    secret: str


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    retry_after_s: float | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


def backoff_seconds(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: between half and all of min(cap, base * 2^(attempts-1))."""
    delay = min(cap, base * 2 ** min(attempts - 1, 40))
    return delay / 2 + rng.uniform(0, delay / 2)


def _pinned(url: str, address: str) -> str:
    """The URL with its host replaced by the checked address."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


class Dispatcher:
    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        client: httpx.Client | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        name: str = "dispatcher",
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self.name = name
        self.rng = random.Random()
        self.client = client or httpx.Client(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=settings.dispatch_concurrency),
            headers={"user-agent": "eta-service-webhooks"},
        )
        self.pool = ThreadPoolExecutor(settings.dispatch_concurrency, thread_name_prefix=f"{name}-send")
        self.delivered = 0

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    # ---- one round ----------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Claim, send and record one batch; returns how many deliveries were attempted."""
        jobs = self.claim()
        if not jobs:
            return 0
        outcomes = list(self.pool.map(self.send, jobs))
        self.record(list(zip(jobs, outcomes, strict=True)))
        return len(jobs)

    def claim(self) -> list[Job]:
        now = self.clock()
        lease = dt.timedelta(seconds=self.settings.dispatch_lease_seconds)
        with self.factory() as session, session.begin():
            due = (
                select(Delivery.id)
                .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
                .where(Delivery.status == PENDING, Delivery.next_attempt_at <= now)
                .where(WebhookEndpoint.enabled.is_(True))
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(self.settings.dispatch_batch)
                .with_for_update(skip_locked=True, of=Delivery)
            )
            ids = list(session.scalars(due))
            if not ids:
                return []
            session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(next_attempt_at=now + lease))
            columns = (
                Delivery.id,
                Notification.id,
                Notification.body,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
            )
            rows = session.execute(
                select(*columns)
                .join(Notification, Notification.id == Delivery.notification_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
                .where(Delivery.id.in_(ids))
                .order_by(Delivery.next_attempt_at, Delivery.id)
            )  # fmt: skip
            return [Job(*row) for row in rows]

    def send(self, job: Job) -> Outcome:
        start = time.perf_counter()

        def done(code: int | None, error: str | None, retry_after: float | None = None) -> Outcome:
            return Outcome(
                code, error and error[:MAX_ERROR_CHARS], retry_after, (time.perf_counter() - start) * 1e3
            )

        try:
            target = check(job.url, self.settings.webhook_allow_loopback)
        except UnsafeUrl as exc:
            return done(None, f"refused: {exc}")
        sent_at = int(self.clock().timestamp())
        signed = headers(job.secret, job.message_id, sent_at, job.body)
        host = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            response = self.client.post(
                _pinned(job.url, target.addresses[0]),
                content=job.body.encode(),
                headers={**signed, "host": host},
                extensions=extensions,
            )
        except httpx.HTTPError as exc:
            return done(None, f"{type(exc).__name__}: {exc}")
        retry_after = retry_after_seconds(response.headers.get("retry-after"), self.clock())
        error = None if 200 <= response.status_code < 300 else response.text[:200] or response.reason_phrase
        return done(response.status_code, error, retry_after)

    def record(self, results: list[tuple[Job, Outcome]]) -> None:
        now = self.clock()
        max_age = dt.timedelta(hours=self.settings.webhook_max_age_hours)
        with self.factory() as session, session.begin():
            for job, outcome in results:
                delivery = session.get(Delivery, job.delivery_id, with_for_update=True)
                if delivery is None or delivery.status != PENDING:
                    continue  # finished meanwhile (a replay, another dispatcher after a lease ran out)
                session.add(DeliveryAttempt(
                    delivery_id=delivery.id, attempted_at=now, status_code=outcome.status_code,
                    error=outcome.error, duration_ms=outcome.duration_ms,
                ))  # fmt: skip
                delivery.attempts += 1
                delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
                if outcome.ok:
                    delivery.status, delivery.finished_at = DELIVERED, now
                    self.delivered += 1
                elif outcome.status_code == 410:
                    self._disable(session, delivery.endpoint_id, now)
                    delivery.status, delivery.finished_at = DISABLED, now
                elif now - delivery.created_at >= max_age:
                    delivery.status, delivery.finished_at = DEAD, now
                else:
                    wait = outcome.retry_after_s
                    if wait is None:
                        s = self.settings
                        wait = backoff_seconds(
                            delivery.attempts,
                            s.webhook_backoff_base_seconds,
                            s.webhook_backoff_max_seconds,
                            self.rng,
                        )
                    delivery.next_attempt_at = now + dt.timedelta(seconds=wait)

    @staticmethod
    def _disable(session: Session, endpoint_id: str, now: dt.datetime) -> None:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is not None and endpoint.enabled:
            endpoint.enabled = False
            endpoint.disabled_reason = f"the receiver answered 410 Gone at {now.isoformat()}"
            logger.warning("webhook endpoint %s disabled: 410 Gone", endpoint_id)

    # ---- the loop -----------------------------------------------------------------------------------
    def run(self, stop: threading.Event, sweep: Callable[[], int] | None = None) -> None:
        """Deliver until `stop` is set; run `sweep` every `stall_sweep_seconds` (0: never)."""
        interval = self.settings.stall_sweep_seconds
        next_sweep = time.monotonic()
        while not stop.is_set():
            if sweep is not None and interval > 0 and time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + interval
                self._guarded(sweep, "stall sweep")
            attempted = self._guarded(self.run_once, "delivery round")
            if not attempted:
                stop.wait(self.settings.dispatch_poll_seconds)

    def _guarded(self, work: Callable[[], int], what: str) -> int:
        """A failed round (the database away, say) is logged and tried again; the loop keeps going."""
        try:
            return work()
        except Exception:
            logger.exception("%s failed in %s; trying again", what, self.name)
            return 0
