"""The webhook delivery worker: sends integration events to subscriptions, signed, in order, at least once.

Each subscription has its own position in the event log (in `webhook_subscriptions`). The worker
queues the subscription's next event and moves the position onto it in one transaction, then
POSTs it until the receiver answers 2xx. A delivery is marked done only after the answer, so a
worker that dies in between sends it again after a restart: at least once, never lost. One
delivery per subscription is outstanding at a time, so a receiver sees its events in log order.

Failures (no answer, or any status but 2xx, redirects included) are retried with exponential
backoff and jitter: about 30 s, 1, 2, 4, 8, 16, 32 min, then hourly, for 24 hours from the first
attempt, the last attempt falling at the end of the window. Then the delivery is marked `failed`
and the subscription is paused, so nothing is silently skipped: a replay from the failed event
(or from any position) resumes it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

import urllib3

from projections.integration_events import IntegrationEvent, IntegrationFeed
from projections.projector import LogWaiter
from service.webhooks import ACTIVE, DELIVERED, FAILED, PENDING, Delivery, Outcome, Subscription, WebhookStore

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Conversa-Signature"
USER_AGENT = "Conversa-Webhooks/1"
MAX_RESPONSE_BYTES = 64 * 1024  # what is read of a receiver's answer before the connection is closed
DELIVERY_LOG_RETENTION = timedelta(days=30)
PRUNE_EVERY = timedelta(hours=1)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, within a window that starts at the first attempt."""

    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    window: timedelta = timedelta(hours=24)
    jitter: float = 0.5  # each delay is drawn from [(1 − jitter) × d, d]: receivers are not hit in step

    def delay(self, attempts: int, chance: random.Random) -> timedelta:
        """The wait after the given number of failed attempts."""
        exponential: timedelta = self.first_delay * 2 ** min(attempts - 1, 30)
        return min(self.max_delay, exponential) * (1 - self.jitter * chance.random())


class DeliveryError(Exception):
    """No HTTP answer came back. The message names what went wrong, never the URL or the body."""


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        """POST the body; the answer's status code, or DeliveryError."""


class Urllib3Transport:
    """POSTs with urllib3: no retries of its own, no redirects followed, no proxies from the environment."""

    def __init__(self) -> None:
        self.pool = urllib3.PoolManager(num_pools=32, maxsize=4, retries=False)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        try:
            response = self.pool.request(
                "POST",
                url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=False,
                redirect=False,
                preload_content=False,
            )
        # Most specific first: a refused connection is a NewConnectionError, which is a TimeoutError.
        except urllib3.exceptions.NameResolutionError:
            raise DeliveryError("unknown host") from None
        except urllib3.exceptions.NewConnectionError:
            raise DeliveryError("could not connect") from None
        except urllib3.exceptions.TimeoutError:
            raise DeliveryError("timed out") from None
        except urllib3.exceptions.SSLError:
            raise DeliveryError("TLS handshake failed") from None
        except urllib3.exceptions.ProtocolError:
            raise DeliveryError("the connection was dropped without an answer") from None
        except urllib3.exceptions.HTTPError as error:
            raise DeliveryError(type(error).__name__) from None
        try:
            response.read(MAX_RESPONSE_BYTES)  # the answer's body is not used; a little is read politely
        except urllib3.exceptions.HTTPError:
            pass  # the status arrived; a broken body does not change it
        finally:
            response.close()
            response.release_conn()
        return int(response.status)

    def close(self) -> None:
        self.pool.clear()


def utc_now() -> datetime:
    return datetime.now(UTC)


class DeliveryWorker:
    """Delivers every subscription's events; `run_once` does what is due now, `follow` runs until stopped."""

    def __init__(
        self,
        feed: IntegrationFeed,
        store: WebhookStore,
        transport: Transport | None = None,
        clock: Callable[[], datetime] = utc_now,
        policy: RetryPolicy | None = None,
        timeout_seconds: float = 10.0,
        concurrency: int = 4,
        batch: int = 100,
        chance: random.Random | None = None,
    ) -> None:
        self.feed = feed
        self.store = store
        self.transport = transport or Urllib3Transport()
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.timeout_seconds = timeout_seconds
        self.batch = batch
        self.chance = chance or random.Random()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Renewed when half of it is gone, and half outlasts an attempt (to connect, then for the
        # answer), so a lease does not run out under a worker that is still at work.
        self.lease = timedelta(seconds=4 * timeout_seconds + 60)
        self._pool = (
            ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook") if concurrency > 1 else None
        )
        self._chance_lock = threading.Lock()
        self._pruned_at: datetime | None = None

    def run_once(self) -> int:
        """Attempt every delivery that is due and queue new events; the number of steps taken."""
        now = self.clock()
        self._prune(now)
        due = self.store.due(now, self.feed.application.head_position, self.owner)
        if self._pool is None or len(due) < 2:
            return sum(self._serve(subscription_id) for subscription_id in due)
        return sum(self._pool.map(self._serve, due))  # subscriptions in parallel, each one in order

    def next_due(self) -> datetime | None:
        """When the earliest retry is due (None when nothing waits)."""
        return self.store.next_due()

    def follow(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Deliver until stopped, waking for new events (NOTIFY on PostgreSQL, polling on SQLite)."""
        waiter = LogWaiter(self.feed.application, poll_seconds)
        try:
            while not stop.is_set():
                try:
                    worked = self.run_once()
                except Exception:  # a database hiccup must not end deliveries for good
                    logger.exception("webhook delivery pass failed; trying again shortly")
                    stop.wait(poll_seconds)
                    continue
                if not worked:
                    waiter.wait(stop)  # retries fall due at most a poll (or a NOTIFY timeout) late
        finally:
            waiter.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        if isinstance(self.transport, Urllib3Transport):
            self.transport.close()

    # ---- one subscription -----------------------------------------------------------------------

    def _serve(self, subscription_id: str) -> int:
        now = self.clock()
        lease = _Lease(subscription_id, now + self.lease)
        if not self.store.claim(subscription_id, self.owner, now, lease.until):
            return 0  # another worker has it
        steps = 0
        try:
            while steps < self.batch:
                worked, go_on = self._step(lease)
                steps += worked
                if not go_on:
                    break
        finally:
            self.store.release(subscription_id, self.owner)
        return steps

    def _step(self, lease: _Lease) -> tuple[bool, bool]:
        """Queue the next event and attempt it, or attempt the outstanding delivery: whether it did
        something, and whether there may be more to do now (not after a failed attempt: that waits)."""
        subscription, delivery = self.store.state(lease.subscription_id)
        if subscription is None or subscription.status != ACTIVE:
            return False, False
        now = self.clock()
        event = None
        if delivery is None:
            page = self.feed.read(subscription.position, 1, subscription.event_types)
            if not page.items:
                return page.next_after > subscription.position and self.store.advance(
                    subscription, page.next_after
                ), False
            event = page.items[0]  # sent as just read: no need to read it again for its first attempt
            delivery = self.store.enqueue(subscription, event, now)
            if delivery is None:
                return False, False  # a replay or another worker changed the subscription meanwhile
            subscription = replace(subscription, position=event.id, next_seq=subscription.next_seq + 1)
        elif delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return False, False
        if lease.until - now < self.lease / 2:
            lease.until = now + self.lease
            if not self.store.claim(lease.subscription_id, self.owner, now, lease.until):
                return False, False  # it ran out and another worker took the subscription over
        delivered = self._attempt(subscription, delivery, now, event)
        return True, delivered

    def _attempt(
        self, subscription: Subscription, delivery: Delivery, now: datetime, event: IntegrationEvent | None = None
    ) -> bool:
        """POST the delivery's event once and record what came of it; True when it was delivered.

        A retry reads the event again: its texts read as they do now (an erasure reaches it too)."""
        status_code, error = None, None
        event = event or self.feed.event(delivery.event_id)
        if event is None:
            error = "the event is no longer published"
        else:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                SIGNATURE_HEADER: sign(subscription.secret, int(now.timestamp()), event.body),
                "Conversa-Event-Id": str(event.id),
                "Conversa-Event-Type": event.type,
                "Conversa-Delivery-Attempt": str(delivery.attempts + 1),
            }
            try:
                status_code = self.transport.post(subscription.url, event.body, headers, self.timeout_seconds)
            except DeliveryError as failure:
                error = str(failure)
        outcome = self._outcome(delivery, now, status_code, error)
        if outcome.status == DELIVERED:
            logger.debug("webhook %s: event %s delivered (HTTP %s)", subscription.id, delivery.event_id, status_code)
        else:
            logger.warning(
                "webhook %s: event %s attempt %s failed (%s)%s",
                subscription.id,
                delivery.event_id,
                delivery.attempts + 1,
                f"HTTP {status_code}" if status_code is not None else error,
                "; giving up and pausing the subscription" if outcome.status == FAILED else "",
            )
        recorded = self.store.record(subscription, delivery, outcome)
        return recorded and outcome.status == DELIVERED

    def _outcome(self, delivery: Delivery, now: datetime, status_code: int | None, error: str | None) -> Outcome:
        if status_code is not None and 200 <= status_code < 300:
            return Outcome(now, status_code, None, DELIVERED)
        first_attempt_at = delivery.first_attempt_at or now
        deadline = first_attempt_at + self.policy.window
        finished = self.clock()
        if finished >= deadline:
            what = f"HTTP {status_code}" if status_code is not None else error
            reason = (
                f"event {delivery.event_id} could not be delivered within {_hours(self.policy.window)} "
                f"(last attempt: {what}); replay from {delivery.event_id} to resume, or from {delivery.event_id + 1} "
                "to skip it"
            )
            return Outcome(now, status_code, error, FAILED, pause_reason=reason)
        with self._chance_lock:
            delay = self.policy.delay(delivery.attempts + 1, self.chance)
        return Outcome(now, status_code, error, PENDING, next_attempt_at=min(finished + delay, deadline))

    def _prune(self, now: datetime) -> None:
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            self.store.prune(now - DELIVERY_LOG_RETENTION)


@dataclass
class _Lease:
    """A worker's hold on one subscription, and until when it holds."""

    subscription_id: str
    until: datetime


def _hours(window: timedelta) -> str:
    hours = window / timedelta(hours=1)
    return f"{hours:g} hours"
