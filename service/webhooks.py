"""Webhook subscriptions and their delivery log, in tables of their own.

Subscriptions are operational configuration, not customer history, so they are rows in the event
store's database (`webhook_subscriptions`, `webhook_deliveries`) rather than events: a secret must
be deletable and must never be copied into the immutable log (or its backups), and delivery state
changes with every attempt. Keeping them in the same database means every process and machine
sees them, and a worker that restarts resumes where its subscriptions' positions are.

No delivery keeps its body: a body holds customers' personal data, so it is rendered from the log
at each attempt, and an erasure reaches the retries of a delivery too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.errors import NotFoundError
from projections.database import Row, Transaction, ViewDatabase
from projections.integration_events import IntegrationEvent
from projections.page import iso, parse_iso

ACTIVE = "active"
PAUSED = "paused"
# Delivery statuses: waiting for an attempt, done, given up after the retry window, or dropped
# because a replay moved the subscription's position.
PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED, CANCELLED)

TABLES = (
    """CREATE TABLE IF NOT EXISTS webhook_subscriptions (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        event_types TEXT NOT NULL,
        secret TEXT NOT NULL,
        secret_hint TEXT NOT NULL,
        status TEXT NOT NULL,
        paused_reason TEXT,
        position BIGINT NOT NULL,
        epoch BIGINT NOT NULL,
        next_seq BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT,
        lease_owner TEXT,
        lease_until TEXT)""",
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
        subscription_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        event_id BIGINT NOT NULL,
        event_type TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        status_code INTEGER,
        error TEXT,
        created_at TEXT NOT NULL,
        first_attempt_at TEXT,
        last_attempt_at TEXT,
        next_attempt_at TEXT,
        completed_at TEXT,
        PRIMARY KEY (subscription_id, seq))""",
    "CREATE INDEX IF NOT EXISTS webhook_subscriptions_by_creation ON webhook_subscriptions (created_at, id)",
    """CREATE UNIQUE INDEX IF NOT EXISTS webhook_deliveries_pending
        ON webhook_deliveries (subscription_id) WHERE status = 'pending'""",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_completed ON webhook_deliveries (completed_at)",
)

SUBSCRIPTION_COLUMNS = (
    "id, url, event_types, secret, secret_hint, status, paused_reason, position, epoch, next_seq, created_at, "
    "created_by"
)
DELIVERY_COLUMNS = (
    "subscription_id, seq, event_id, event_type, status, attempts, status_code, error, created_at, "
    "first_attempt_at, last_attempt_at, next_attempt_at, completed_at"
)


class WebhookNotFoundError(NotFoundError):
    pass


def secret_hint(secret: str) -> str:
    """Enough to tell two secrets apart, far too little to guess one (at least 32 characters)."""
    return "…" + secret[-4:]


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    event_types: tuple[str, ...]
    secret: str = field(repr=False)  # never in a log line, a traceback's locals or an answer
    secret_hint: str
    status: str
    paused_reason: str | None
    position: int  # the last log position this subscription has handled (queued or passed over)
    epoch: int  # bumped by every replay: a worker's step from before it is refused
    next_seq: int
    created_at: datetime
    created_by: str | None

    @classmethod
    def from_row(cls, row: Row) -> Subscription:
        return cls(
            id=row[0],
            url=row[1],
            event_types=tuple(json.loads(row[2])),
            secret=row[3],
            secret_hint=row[4],
            status=row[5],
            paused_reason=row[6],
            position=int(row[7]),
            epoch=int(row[8]),
            next_seq=int(row[9]),
            created_at=parse_iso(row[10]),
            created_by=row[11],
        )


@dataclass(frozen=True)
class Delivery:
    """One integration event sent (or being sent) to one subscription, with its latest outcome."""

    subscription_id: str
    seq: int
    event_id: int
    event_type: str
    status: str
    attempts: int
    status_code: int | None
    error: str | None
    created_at: datetime
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Delivery:
        def moment(value: str | None) -> datetime | None:
            return None if value is None else parse_iso(value)

        return cls(
            subscription_id=row[0],
            seq=int(row[1]),
            event_id=int(row[2]),
            event_type=row[3],
            status=row[4],
            attempts=int(row[5]),
            status_code=None if row[6] is None else int(row[6]),
            error=row[7],
            created_at=parse_iso(row[8]),
            first_attempt_at=moment(row[9]),
            last_attempt_at=moment(row[10]),
            next_attempt_at=moment(row[11]),
            completed_at=moment(row[12]),
        )


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    attempted_at: datetime
    status_code: int | None
    error: str | None
    status: str  # DELIVERED, FAILED (given up) or PENDING (to be retried at next_attempt_at)
    next_attempt_at: datetime | None = None
    pause_reason: str | None = None


class WebhookStore:
    """The subscriptions and the delivery log, on the event store's database."""

    def __init__(self, database: ViewDatabase) -> None:
        self.database = database

    def setup(self) -> None:
        with self.database.transaction() as tx:
            for statement in TABLES:
                tx.execute(statement)

    # ---- subscriptions --------------------------------------------------------------------------

    def create(
        self, url: str, event_types: Sequence[str], secret: str, position: int, created_by: str | None, now: datetime
    ) -> Subscription:
        """A new, active subscription that starts after the given log position."""
        subscription_id = str(uuid.uuid4())
        with self.database.transaction() as tx:
            tx.execute(
                f"INSERT INTO webhook_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                (
                    subscription_id,
                    url,
                    json.dumps(list(event_types)),
                    secret,
                    secret_hint(secret),
                    ACTIVE,
                    None,
                    position,
                    0,
                    1,
                    iso(now),
                    created_by,
                ),
            )
        return self.get(subscription_id)

    def find(self, subscription_id: str) -> Subscription | None:
        with self.database.transaction(write=False) as tx:
            return self._find(tx, subscription_id)

    @staticmethod
    def _find(tx: Transaction, subscription_id: str) -> Subscription | None:
        rows = tx.query(f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = ?", (subscription_id,))
        return Subscription.from_row(rows[0]) if rows else None

    def get(self, subscription_id: str) -> Subscription:
        subscription = self.find(subscription_id)
        if subscription is None:
            raise WebhookNotFoundError(f"no webhook with id {subscription_id}")
        return subscription

    def subscriptions(self, limit: int, after: list[Any] | None) -> tuple[list[Subscription], list[Any] | None]:
        """Subscriptions oldest first, keyset-paginated on (created_at, id)."""
        where, params = "", [limit + 1]
        if after is not None:
            where, params = (
                "WHERE (created_at > ? OR (created_at = ? AND id > ?))",
                [after[0], after[0], after[1], *params],
            )
        with self.database.transaction(write=False) as tx:
            rows = tx.query(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions {where} ORDER BY created_at, id LIMIT ?",
                params,
            )
        items = [Subscription.from_row(row) for row in rows[:limit]]
        more = len(rows) > limit
        return items, [iso(items[-1].created_at), items[-1].id] if more else None

    def delete(self, subscription_id: str) -> None:
        """Forget the subscription, its secret and its delivery log."""
        with self.database.transaction() as tx:
            if not tx.rowcount("DELETE FROM webhook_subscriptions WHERE id = ?", (subscription_id,)):
                raise WebhookNotFoundError(f"no webhook with id {subscription_id}")
            tx.execute("DELETE FROM webhook_deliveries WHERE subscription_id = ?", (subscription_id,))

    def replay(self, subscription_id: str, from_position: int, now: datetime) -> Subscription:
        """Send again every event from this position on (and resume a paused subscription)."""
        with self.database.transaction() as tx:
            # The subscription's row first: a worker's step that raced this one is then refused
            # by the epoch it carries, or has committed and its pending delivery is dropped below.
            changed = tx.rowcount(
                "UPDATE webhook_subscriptions SET position = ?, epoch = epoch + 1, status = ?, paused_reason = NULL "
                "WHERE id = ?",
                (from_position - 1, ACTIVE, subscription_id),
            )
            if not changed:
                raise WebhookNotFoundError(f"no webhook with id {subscription_id}")
            tx.execute(
                "UPDATE webhook_deliveries SET status = ?, next_attempt_at = NULL, completed_at = ? "
                "WHERE subscription_id = ? AND status = ?",
                (CANCELLED, iso(now), subscription_id, PENDING),
            )
            subscription = self._find(tx, subscription_id)
        assert subscription is not None
        return subscription

    # ---- the delivery log -----------------------------------------------------------------------

    def deliveries(
        self, subscription_id: str, limit: int, before: int | None, status: str | None = None
    ) -> tuple[list[Delivery], int | None]:
        """A subscription's deliveries, newest first, keyset-paginated on their sequence number."""
        self.get(subscription_id)
        conditions = ["subscription_id = ?"]
        params: list[Any] = [subscription_id]
        if before is not None:
            conditions.append("seq < ?")
            params.append(before)
        if status is not None:
            conditions.append("status = ?")
            params.append(status)
        with self.database.transaction(write=False) as tx:
            rows = tx.query(
                f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE {' AND '.join(conditions)} "
                "ORDER BY seq DESC LIMIT ?",
                [*params, limit + 1],
            )
        items = [Delivery.from_row(row) for row in rows[:limit]]
        return items, items[-1].seq if len(rows) > limit else None

    def state(self, subscription_id: str) -> tuple[Subscription | None, Delivery | None]:
        """A subscription and its outstanding delivery, read together."""
        with self.database.transaction(write=False) as tx:
            subscription = self._find(tx, subscription_id)
            return subscription, self._pending(tx, subscription_id)

    def pending(self, subscription_id: str) -> Delivery | None:
        with self.database.transaction(write=False) as tx:
            return self._pending(tx, subscription_id)

    @staticmethod
    def _pending(tx: Transaction, subscription_id: str) -> Delivery | None:
        rows = tx.query(
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE subscription_id = ? AND status = ?",
            (subscription_id, PENDING),
        )
        return Delivery.from_row(rows[0]) if rows else None

    # ---- what the delivery worker does ----------------------------------------------------------

    def due(self, now: datetime, head: int, owner: str) -> list[str]:
        """Active subscriptions with a delivery due, or new events to look at, not leased by another worker."""
        moment = iso(now)
        with self.database.transaction(write=False) as tx:
            rows = tx.query(
                """SELECT s.id FROM webhook_subscriptions s
                LEFT JOIN webhook_deliveries d ON d.subscription_id = s.id AND d.status = 'pending'
                WHERE s.status = 'active'
                  AND ((d.seq IS NOT NULL AND d.next_attempt_at <= ?) OR (d.seq IS NULL AND s.position < ?))
                  AND (s.lease_owner IS NULL OR s.lease_owner = ? OR s.lease_until < ?)
                ORDER BY s.created_at, s.id""",
                (moment, head, owner, moment),
            )
        return [row[0] for row in rows]

    def next_due(self) -> datetime | None:
        """When the earliest retry of an active subscription is due."""
        with self.database.transaction(write=False) as tx:
            value = tx.scalar(
                "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d "
                "JOIN webhook_subscriptions s ON s.id = d.subscription_id "
                "WHERE d.status = 'pending' AND s.status = 'active'"
            )
        return None if value is None else parse_iso(value)

    def claim(self, subscription_id: str, owner: str, now: datetime, until: datetime) -> bool:
        """Lease a subscription to one worker, so that its deliveries go out one at a time, in order."""
        with self.database.transaction() as tx:
            return (
                tx.rowcount(
                    "UPDATE webhook_subscriptions SET lease_owner = ?, lease_until = ? "
                    "WHERE id = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)",
                    (owner, iso(until), subscription_id, owner, iso(now)),
                )
                == 1
            )

    def release(self, subscription_id: str, owner: str) -> None:
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE webhook_subscriptions SET lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND lease_owner = ?",
                (subscription_id, owner),
            )

    def advance(self, subscription: Subscription, position: int) -> bool:
        """Pass over events the subscription does not want (none of its types, or internal)."""
        with self.database.transaction() as tx:
            return (
                tx.rowcount(
                    "UPDATE webhook_subscriptions SET position = ? WHERE id = ? AND epoch = ? AND position = ?",
                    (position, subscription.id, subscription.epoch, subscription.position),
                )
                == 1
            )

    def enqueue(self, subscription: Subscription, event: IntegrationEvent, now: datetime) -> Delivery | None:
        """Queue the subscription's next event and move its position onto it, in one transaction;
        None when a replay or another worker changed the subscription meanwhile."""
        with self.database.transaction() as tx:
            moved = tx.rowcount(
                "UPDATE webhook_subscriptions SET position = ?, next_seq = next_seq + 1 "
                "WHERE id = ? AND epoch = ? AND position = ? AND next_seq = ? AND status = ?",
                (event.id, subscription.id, subscription.epoch, subscription.position, subscription.next_seq, ACTIVE),
            )
            if moved != 1:
                return None
            tx.execute(
                f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, 0, NULL, NULL, ?, NULL, NULL, ?, NULL)",
                (subscription.id, subscription.next_seq, event.id, event.type, PENDING, iso(now), iso(now)),
            )
        return Delivery(
            subscription_id=subscription.id,
            seq=subscription.next_seq,
            event_id=event.id,
            event_type=event.type,
            status=PENDING,
            attempts=0,
            status_code=None,
            error=None,
            created_at=now,
            first_attempt_at=None,
            last_attempt_at=None,
            next_attempt_at=now,
            completed_at=None,
        )

    def record(self, subscription: Subscription, delivery: Delivery, outcome: Outcome) -> bool:
        """Write an attempt's outcome; pause the subscription when the delivery was given up.
        False when the delivery was cancelled or deleted meanwhile (the outcome is then dropped)."""
        attempted_at = iso(outcome.attempted_at)
        completed_at = None if outcome.status == PENDING else attempted_at
        next_attempt_at = None if outcome.next_attempt_at is None else iso(outcome.next_attempt_at)
        with self.database.transaction() as tx:
            changed = tx.rowcount(
                "UPDATE webhook_deliveries SET status = ?, attempts = ?, status_code = ?, error = ?, "
                "first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?, next_attempt_at = ?, "
                "completed_at = ? WHERE subscription_id = ? AND seq = ? AND status = ? AND attempts = ?",
                (
                    outcome.status,
                    delivery.attempts + 1,
                    outcome.status_code,
                    outcome.error,
                    attempted_at,
                    attempted_at,
                    next_attempt_at,
                    completed_at,
                    delivery.subscription_id,
                    delivery.seq,
                    PENDING,
                    delivery.attempts,
                ),
            )
            if changed and outcome.pause_reason is not None:
                tx.execute(
                    "UPDATE webhook_subscriptions SET status = ?, paused_reason = ? WHERE id = ? AND epoch = ?",
                    (PAUSED, outcome.pause_reason, subscription.id, subscription.epoch),
                )
        return changed == 1

    def prune(self, before: datetime) -> int:
        """Drop finished deliveries completed before a moment (the log is kept for a while, not for ever)."""
        with self.database.transaction() as tx:
            return tx.rowcount(
                "DELETE FROM webhook_deliveries WHERE status <> ? AND completed_at < ?", (PENDING, iso(before))
            )
