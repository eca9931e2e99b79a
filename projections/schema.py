"""Tables of the read models, one set per generation.

A rebuild fills a new generation while readers keep using the live one; switching is one update
of `view_state`. Every generation has its own tracking position in `view_tracking`, written in the
same transaction as the page of view changes it covers (exactly-once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from projections.database import Transaction

CONTROL_TABLES = (
    "CREATE TABLE IF NOT EXISTS view_state (name TEXT PRIMARY KEY, live_generation BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS view_tracking (generation BIGINT PRIMARY KEY, position BIGINT NOT NULL)",
)

GENERATION_TABLES = (
    """CREATE TABLE IF NOT EXISTS {p}customers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        sort_name TEXT NOT NULL,
        search_text TEXT NOT NULL,
        marketing_consent INTEGER NOT NULL,
        active INTEGER NOT NULL,
        forgotten INTEGER NOT NULL,
        advocacy BIGINT NOT NULL,
        happiness BIGINT,
        is_advocate INTEGER NOT NULL,
        last_contact_at TEXT,
        state TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {p}customer_tags (
        tag TEXT NOT NULL, customer_id TEXT NOT NULL, PRIMARY KEY (customer_id, tag))""",
    """CREATE TABLE IF NOT EXISTS {p}customer_channels (
        channel TEXT NOT NULL, customer_id TEXT NOT NULL, PRIMARY KEY (customer_id, channel))""",
    """CREATE TABLE IF NOT EXISTS {p}conversations (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        kind TEXT,
        priority TEXT NOT NULL,
        assignee_id TEXT,
        last_activity_at TEXT NOT NULL,
        first_response_due_at TEXT,
        resolution_due_at TEXT,
        replied INTEGER NOT NULL,
        replied_late INTEGER NOT NULL,
        next_due_at TEXT NOT NULL,
        state TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {p}contributions (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        endorsements BIGINT NOT NULL,
        submitted_at TEXT NOT NULL,
        state TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {p}kpi_days (
        day TEXT PRIMARY KEY,
        inbound BIGINT NOT NULL,
        negative BIGINT NOT NULL,
        nps_total BIGINT NOT NULL,
        nps_promoters BIGINT NOT NULL,
        nps_detractors BIGINT NOT NULL,
        csat_total BIGINT NOT NULL,
        csat_positive BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {p}kpi_durations (
        metric TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        day TEXT NOT NULL,
        seconds DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (metric, conversation_id))""",
    """CREATE TABLE IF NOT EXISTS {p}kpi_contacts (
        day TEXT NOT NULL, customer_id TEXT NOT NULL, PRIMARY KEY (day, customer_id))""",
)

# Secondary indexes; a rebuild creates them after its bulk load, which is several times faster
# than keeping them up to date row by row.
GENERATION_INDEXES = (
    "CREATE INDEX IF NOT EXISTS {p}customers_by_tag ON {p}customer_tags (tag, customer_id)",
    "CREATE INDEX IF NOT EXISTS {p}customers_by_channel ON {p}customer_channels (channel, customer_id)",
    "CREATE INDEX IF NOT EXISTS {p}customers_by_name ON {p}customers (sort_name, id)",
    "CREATE INDEX IF NOT EXISTS {p}advocates ON {p}customers (advocacy DESC, id DESC) WHERE is_advocate = 1",
    "CREATE INDEX IF NOT EXISTS {p}inbox ON {p}conversations (last_activity_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS {p}inbox_by_status ON {p}conversations (status, last_activity_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS {p}inbox_by_assignee ON {p}conversations (assignee_id, last_activity_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS {p}inbox_by_customer ON {p}conversations (customer_id, last_activity_at DESC, id DESC)",
    """CREATE INDEX IF NOT EXISTS {p}unresolved_complaints ON {p}conversations (next_due_at, id)
        WHERE kind = 'complaint' AND status <> 'resolved'""",
    "CREATE INDEX IF NOT EXISTS {p}contributions_top ON {p}contributions (endorsements DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS {p}contributions_new ON {p}contributions (submitted_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS {p}kpi_durations_by_day ON {p}kpi_durations (metric, day)",
)

TABLE_NAMES = (
    "customers",
    "customer_tags",
    "customer_channels",
    "conversations",
    "contributions",
    "kpi_days",
    "kpi_durations",
    "kpi_contacts",
)

VIEWS = "views"


@dataclass(frozen=True)
class Tables:
    """The table names of one generation."""

    generation: int

    @property
    def prefix(self) -> str:
        return f"v{self.generation}_"

    def __getattr__(self, name: str) -> str:
        if name in TABLE_NAMES:
            return f"{self.prefix}{name}"
        raise AttributeError(name)


def create_control_tables(tx: Transaction) -> None:
    for statement in CONTROL_TABLES:
        tx.execute(statement)


def create_generation(tx: Transaction, generation: int, indexed: bool = True) -> Tables:
    tables = Tables(generation)
    for statement in GENERATION_TABLES:
        tx.execute(statement.format(p=tables.prefix))
    if indexed:
        create_indexes(tx, generation)
    tx.execute(
        "INSERT INTO view_tracking (generation, position) VALUES (?, 0) ON CONFLICT (generation) DO NOTHING",
        (generation,),
    )
    return tables


def create_indexes(tx: Transaction, generation: int) -> None:
    for statement in GENERATION_INDEXES:
        tx.execute(statement.format(p=Tables(generation).prefix))


def drop_generation(tx: Transaction, generation: int) -> None:
    tables = Tables(generation)
    for name in TABLE_NAMES:
        tx.execute(f"DROP TABLE IF EXISTS {tables.prefix}{name}")
    tx.execute("DELETE FROM view_tracking WHERE generation = ?", (generation,))


def erase_customers(tx: Transaction, generation: int, customer_ids: Iterable[str]) -> None:
    """Delete forgotten customers' rows, with their records', from a retired generation."""
    tables = Tables(generation)
    ids = sorted(customer_ids)
    marks = ",".join("?" * len(ids))
    tx.execute(f"DELETE FROM {tables.customers} WHERE id IN ({marks})", ids)
    for name in ("customer_tags", "customer_channels", "conversations", "contributions"):
        tx.execute(f"DELETE FROM {tables.prefix}{name} WHERE customer_id IN ({marks})", ids)


def live_generation(tx: Transaction) -> int | None:
    generation = tx.scalar("SELECT live_generation FROM view_state WHERE name = ?", (VIEWS,))
    return None if generation is None else int(generation)


def set_live_generation(tx: Transaction, generation: int) -> None:
    tx.execute(
        "INSERT INTO view_state (name, live_generation) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET live_generation = excluded.live_generation",
        (VIEWS, generation),
    )


def tracked_position(tx: Transaction, generation: int) -> int | None:
    """How far a generation has projected, or None when it does not exist (any more)."""
    position = tx.scalar("SELECT position FROM view_tracking WHERE generation = ?", (generation,))
    return None if position is None else int(position)
