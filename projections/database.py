"""The read models' connection to the event store's own database, SQLite or PostgreSQL.

Views are written in one SQL dialect that both engines accept (upserts with ON CONFLICT, partial
indexes, TEXT/BIGINT/DOUBLE PRECISION columns, `?` placeholders); this class hides the rest.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg

Row = tuple[Any, ...]
DEFAULT_CACHE_KIB = 64 * 1024


class Cursor(Protocol):
    rowcount: int

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class Transaction:
    """SQL statements inside one database transaction."""

    def __init__(self, cursor: Cursor, placeholder: str) -> None:
        self._cursor = cursor
        self._placeholder = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self._placeholder == "?" else sql.replace("?", self._placeholder)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self._cursor.executemany(self._sql(sql), rows)

    def rowcount(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a change and say how many rows it changed."""
        self._cursor.execute(self._sql(sql), params)
        return int(self._cursor.rowcount)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cursor.execute(self._sql(sql), params)
        return [tuple(row) for row in self._cursor.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None


class ViewDatabase:
    """Connections for views, one per thread (sqlite3 and psycopg connections are not shared)."""

    def __init__(self, persistence_env: Mapping[str, str]) -> None:
        self.env = dict(persistence_env)
        self.is_postgres = self.env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
        if not self.is_postgres and self.env["PERSISTENCE_MODULE"] != "eventsourcing.sqlite":
            raise ValueError("views need SQLite or PostgreSQL")
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        connection: Any
        if self.is_postgres:
            connection = psycopg.connect(
                host=self.env["POSTGRES_HOST"],
                port=int(self.env["POSTGRES_PORT"]),
                dbname=self.env["POSTGRES_DBNAME"],
                user=self.env["POSTGRES_USER"],
                password=self.env.get("POSTGRES_PASSWORD") or None,
                autocommit=False,
            )
            schema = self.env.get("POSTGRES_SCHEMA")
            if schema:
                connection.execute(psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema)))
                connection.commit()
        else:
            # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE below.
            connection = sqlite3.connect(self.env["SQLITE_DBNAME"], isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA busy_timeout={int(float(self.env.get('SQLITE_LOCK_TIMEOUT', '10')) * 1000)}")
            connection.execute("PRAGMA synchronous=NORMAL")
            # Deleted and overwritten rows are zeroed, not left readable in free space (erasure).
            connection.execute("PRAGMA secure_delete=ON")
            # Pages of upserts touch many index pages: a 64 MiB cache and rarer WAL checkpoints
            # (every 64 MiB instead of 4 MiB) roughly halve a rebuild's time on this machine.
            connection.execute(f"PRAGMA cache_size=-{DEFAULT_CACHE_KIB}")
            connection.execute("PRAGMA wal_autocheckpoint=16384")
        with self._lock:
            self._connections.append(connection)
        return connection

    @contextmanager
    def bulk_cache(self, mebibytes: int = 1024) -> Iterator[None]:
        """A large page cache on this thread's connection while a rebuild writes its tables."""
        if self.is_postgres:
            yield
            return
        self.connection.execute(f"PRAGMA cache_size=-{mebibytes * 1024}")
        try:
            yield
        finally:
            self.connection.execute(f"PRAGMA cache_size=-{DEFAULT_CACHE_KIB}")

    @property
    def connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        connection = self.connection
        if self.is_postgres:
            with connection.cursor() as cursor:
                try:
                    yield Transaction(cursor, "%s")
                except BaseException:
                    connection.rollback()
                    raise
                connection.commit()
        else:
            cursor = connection.cursor()
            # IMMEDIATE takes the write lock up front, so two projectors never interleave.
            cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Transaction(cursor, "?")
            except BaseException:
                connection.rollback()
                raise
            finally:
                cursor.close()
            connection.commit()

    def truncate_log(self) -> None:
        """Copy SQLite's write-ahead log into the database and empty it, so that earlier versions
        of changed rows survive nowhere. It gives up quietly while a reader still needs the log
        (the next erasure or checkpoint empties it); PostgreSQL has nothing to do here."""
        if not self.is_postgres:
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
