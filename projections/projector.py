"""The projector: follows the event log and keeps the read models up to date, exactly once.

Each page of notifications is applied in one transaction together with the generation's tracking
position. The position is only advanced from the value the page started at, so a crash before the
commit re-applies nothing (the page is rolled back whole) and a second projector racing the first
rolls back instead of applying a page twice.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from domain.application import CustomerRelations
from domain.scores import HappinessWeights
from projections.database import Transaction, ViewDatabase
from projections.page import Known, Page, forgotten_customer_ids
from projections.schema import (
    Tables,
    create_control_tables,
    create_generation,
    create_indexes,
    drop_generation,
    erase_customers,
    live_generation,
    set_live_generation,
    tracked_position,
)

DEFAULT_PAGE_SIZE = 1000
REBUILD_PAGE_SIZE = 50000
REBUILD_WRITE_EVENTS = 250_000


class ConcurrentProjectorError(Exception):
    """Another projector advanced the same generation first; this page was rolled back."""


@dataclass(frozen=True)
class Progress:
    """How far a rebuild has come, for progress bars."""

    position: int
    head: int
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class Projector:
    """Keeps one generation of the views in step with the application's event log."""

    def __init__(
        self,
        application: CustomerRelations,
        database: ViewDatabase,
        weights: HappinessWeights | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.application = application
        self.database = database
        self.weights = weights or HappinessWeights()
        self.page_size = page_size
        self._set_up = False

    def setup(self) -> int:
        """Create the view tables on first use; the live generation."""
        self._set_up = True
        with self.database.transaction() as tx:
            create_control_tables(tx)
            generation = live_generation(tx)
            if generation is None:
                generation = 1
                create_generation(tx, generation)
                set_live_generation(tx, generation)
        return generation

    def live_generation(self) -> int:
        if not self._set_up:
            self.setup()
        with self.database.transaction(write=False) as tx:
            generation = live_generation(tx)
        return generation if generation is not None else self.setup()

    def _read(self, after: int, limit: int) -> tuple[list[Any], int]:
        """Decoded events after a position, and the position of the last one (0 when none)."""
        notifications = self.application.recorder.select_notifications(start=after + 1, limit=limit)
        with self.application.keyring.cached():
            events = [self.application.mapper.to_domain_event(n) for n in notifications]
        return events, notifications[-1].id if notifications else 0

    def _apply(self, generation: int, after: int, events: list[Any], last: int) -> None:
        """Apply events that follow `after` in one transaction that moves the tracking to `last`."""
        page = Page(Tables(generation), self.application.targets, self.weights)
        forgotten = forgotten_customer_ids(events)
        with self.database.transaction() as tx:
            page.load_for(tx, events)
            page.apply(events)
            self._write(tx, page, generation, after, last)
            if forgotten:
                # A generation replaced by a rebuild is kept for readers a while: it forgets too.
                for retired in tx.query("SELECT generation FROM view_tracking WHERE generation < ?", (generation,)):
                    erase_customers(tx, int(retired[0]), forgotten)
        if forgotten:
            self._complete_erasure(forgotten)

    def _complete_erasure(self, customer_ids: set[str]) -> None:
        """Make sure the keys are gone (the forgetting process may have died after its save), and
        that no copy of the blanked rows lingers in the SQLite write-ahead log."""
        self.application.keyring.destroy(UUID(i) for i in sorted(customer_ids))
        self.database.truncate_log()

    @staticmethod
    def _write(tx: Transaction, page: Page, generation: int, after: int, last: int) -> None:
        page.flush(tx)
        advanced = tx.rowcount(
            "UPDATE view_tracking SET position = ? WHERE generation = ? AND position = ?",
            (last, generation, after),
        )
        if advanced != 1:
            raise ConcurrentProjectorError(f"generation {generation} moved past {after} meanwhile")

    def project_page(self, generation: int, limit: int | None = None) -> int:
        """Apply the next page of events to a generation; the number of notifications applied."""
        with self.database.transaction(write=False) as tx:
            position = tracked_position(tx, generation)
        if position is None:
            raise ConcurrentProjectorError(f"generation {generation} was replaced by a rebuild")
        events, last = self._read(position, limit or self.page_size)
        if events:
            self._apply(generation, position, events, last)
        return len(events)

    def catch_up(self, generation: int | None = None, limit: int | None = None) -> int:
        """Apply every page up to the store's head; the number of notifications applied."""
        generation = generation or self.live_generation()
        total = 0
        while True:
            try:
                applied = self.project_page(generation, limit)
            except ConcurrentProjectorError:
                continue  # another projector applied that page: carry on from where it got to
            if not applied:
                return total
            total += applied

    def position(self) -> int:
        """The position the live views have reached."""
        with self.database.transaction(write=False) as tx:
            generation = live_generation(tx)
            position = tracked_position(tx, generation) if generation is not None else None
        return position or 0

    def follow(self, stop: threading.Event, poll_seconds: float = 0.2) -> None:
        """Keep up with the log until stopped: LISTEN/NOTIFY on PostgreSQL, polling on SQLite."""
        waiter = LogWaiter(self.application, poll_seconds)
        try:
            while not stop.is_set():
                try:
                    applied = self.project_page(self.live_generation())
                except ConcurrentProjectorError:
                    continue
                if not applied:
                    waiter.wait(stop)
        finally:
            waiter.close()

    def rebuild(self, progress: Callable[[Progress], None] | None = None) -> int:
        """Build a new generation from position 0, switch readers to it, drop the old one.

        Readers keep using the live generation until the new one has caught up with the log.
        The generation it replaces is kept until the next rebuild, so that a reader that looked
        up the live generation just before the switch still finds its tables. Returns the new
        generation.
        """
        self.setup()
        with self.database.transaction() as tx:
            old = live_generation(tx)
            generations = [int(g) for (g,) in tx.query("SELECT generation FROM view_tracking")]
            for stale in generations:
                if stale != old:
                    drop_generation(tx, stale)  # an earlier generation, or a rebuild that died
            new = max(generations, default=0) + 1
            create_generation(tx, new, indexed=False)
        started = time.monotonic()
        applied = 0
        # Every row of the new generation stays in memory (nothing else writes it, so a row it
        # lacks does not exist), and rows are written once per batch of pages, not per page:
        # the generation is invisible until the switch, and a rebuild that dies is dropped.
        known = Known(complete=True)
        batch, written = Page(Tables(new), self.application.targets, self.weights, known), 0
        with self.database.bulk_cache(), _without_cyclic_gc():
            for _, events, last in self._prefetched_pages():
                batch.apply(events)
                applied += len(events)
                if applied - written >= REBUILD_WRITE_EVENTS:
                    after = self._tracked(new)
                    with self.database.transaction() as tx:
                        self._write(tx, batch, new, after, last)
                    batch, written = Page(Tables(new), self.application.targets, self.weights, known), applied
                if progress is not None:
                    progress(Progress(last, self.application.head_position, applied, time.monotonic() - started))
            if applied > written:
                after = self._tracked(new)
                with self.database.transaction() as tx:
                    self._write(tx, batch, new, after, last)
            with self.database.transaction() as tx:
                create_indexes(tx, new)
        with self.database.transaction() as tx:
            set_live_generation(tx, new)
        self.catch_up(new)  # what was written during the switch
        return new

    def _prefetched_pages(self) -> Iterator[tuple[int, list[Any], int]]:
        """Pages from position 0, each read and decoded while the one before is being applied.

        sqlite3 and psycopg release the GIL while the database works, so reading the next page
        overlaps with writing this one on the second core.
        """
        pages: queue.Queue[tuple[int, list[Any], int] | BaseException | None] = queue.Queue(maxsize=1)
        stop = threading.Event()

        def read_ahead() -> None:
            after = 0
            try:
                while not stop.is_set():
                    events, last = self._read(after, REBUILD_PAGE_SIZE)
                    if not events:
                        break
                    pages.put((after, events, last))
                    after = last
                pages.put(None)
            except BaseException as error:  # handed to the consuming thread, which raises it
                pages.put(error)

        reader = threading.Thread(target=read_ahead, name="rebuild-reader", daemon=True)
        reader.start()
        try:
            while (item := pages.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while reader.is_alive():  # unblock a reader waiting to put, then let it finish
                with contextlib.suppress(queue.Empty):
                    pages.get(timeout=0.1)
            reader.join()

    def _tracked(self, generation: int) -> int:
        with self.database.transaction(write=False) as tx:
            return tracked_position(tx, generation) or 0


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cycle collector while a rebuild holds every row of its generation.

    Events and view states are trees of dicts and lists (no cycles), so reference counting frees
    them all; the collector would only walk the growing set of live rows over and over.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class LogWaiter:
    """Waits for new events: a NOTIFY from the PostgreSQL recorder, or a short sleep on SQLite."""

    def __init__(self, application: CustomerRelations, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self.connection: Any = None
        channel = getattr(application.recorder, "channel_name", None)
        if channel is not None:
            env = application.env
            self.connection = psycopg.connect(
                host=env.get("POSTGRES_HOST"),
                port=int(env.get("POSTGRES_PORT") or 5432),
                dbname=env.get("POSTGRES_DBNAME"),
                user=env.get("POSTGRES_USER"),
                password=env.get("POSTGRES_PASSWORD") or None,
                autocommit=True,
            )
            self.connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    def wait(self, stop: threading.Event) -> None:
        if self.connection is None:
            stop.wait(self.poll_seconds)
            return
        # A notification wakes us at once; the timeout bounds how late a stop is seen.
        for _ in self.connection.notifies(timeout=1.0, stop_after=1):
            pass

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
