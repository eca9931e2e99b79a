"""Each customer's data key, and the sealing of personal data in events with it (crypto-shredding).

Keys live in a table of their own (`customer_keys`) in the event store's database, one row per
customer. Forgetting a customer replaces the key with a tombstone: the events' ciphertext can no
longer be opened, and no new key is ever made for that customer, so nothing new can be written
about them either.

Keys are not cached for the life of a process: a process that cached a key would still read a
customer another process has just forgotten. A lookup is cached only within one unit of work
(`Keyring.cached()`: one aggregate read, one save, one projector page).
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Transcoding

from domain.errors import CustomerInactiveError
from domain.personal_data import FORGOTTEN, PersonalText

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce; random per value, so one key seals many values safely


class KeyStore(Protocol):
    def get(self, owner: UUID) -> bytes | None:
        """The owner's key; None when there is none or it was destroyed."""

    def add(self, keys: dict[UUID, bytes]) -> dict[UUID, bytes | None]:
        """Keep each new key unless its owner has a row already; each owner's key (None: destroyed)."""

    def destroy(self, owners: Iterable[UUID]) -> None:
        """Replace the owners' keys by tombstones, for ever."""


class Keyring:
    """Seals personal text with its owner's key and opens it again while the key exists."""

    def __init__(self, store: KeyStore | None = None) -> None:
        self.store: KeyStore = store or MemoryKeyStore()
        self._cache: ContextVar[dict[UUID, AESGCM | None] | None] = ContextVar(f"keyring-{id(self)}", default=None)

    @contextmanager
    def cached(self) -> Iterator[None]:
        """Look each owner's key up once inside the block (one unit of work, one thread)."""
        if self._cache.get() is not None:
            yield
            return
        token = self._cache.set({})
        try:
            yield
        finally:
            self._cache.reset(token)

    def _cipher(self, owner: UUID, for_writing: bool) -> AESGCM | None:
        cache = self._cache.get()
        if cache is not None and owner in cache:
            cipher = cache[owner]
        else:
            key = self.store.get(owner)
            cipher = None if key is None else AESGCM(key)
            if cache is not None:
                cache[owner] = cipher
        if cipher is None and for_writing:
            cipher = self._new_ciphers([owner])[owner]
            if cipher is None:
                raise CustomerInactiveError(f"customer {owner} was forgotten: nothing more is recorded about them")
        return cipher

    def _new_ciphers(self, owners: list[UUID]) -> dict[UUID, AESGCM | None]:
        keys = self.store.add({owner: os.urandom(KEY_BYTES) for owner in owners})
        ciphers = {owner: None if key is None else AESGCM(key) for owner, key in keys.items()}
        cache = self._cache.get()
        if cache is not None:
            cache.update(ciphers)
        return ciphers

    def prepare(self, owners: Iterable[UUID]) -> None:
        """Make the keys of many new owners at once (one transaction), for the unit of work."""
        cache = self._cache.get()
        missing = sorted({owner for owner in owners if cache is None or owner not in cache})
        if missing:
            self._new_ciphers(missing)

    def seal(self, text: PersonalText) -> bytes:
        cipher = self._cipher(text.owner, for_writing=True)
        assert cipher is not None  # _cipher raises rather than return None for writing
        nonce = os.urandom(NONCE_BYTES)
        # The owner is authenticated data: a value cannot be passed off as another customer's.
        return nonce + cipher.encrypt(nonce, text.value.encode(), text.owner.bytes)

    def open(self, owner: UUID, sealed: bytes) -> PersonalText:
        cipher = self._cipher(owner, for_writing=False)
        if cipher is None:
            return PersonalText(owner, FORGOTTEN)
        try:
            plain = cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], owner.bytes)
        except InvalidTag:
            raise ValueError(f"personal data of {owner} does not match its key (tampered or misfiled)") from None
        return PersonalText(owner, plain.decode())

    def destroy(self, owners: Iterable[UUID]) -> None:
        """Make every value sealed for these owners unreadable, and refuse new ones."""
        owners = list(owners)
        self.store.destroy(owners)
        cache = self._cache.get()
        if cache is not None:
            cache.update(dict.fromkeys(owners))


class SealedTextTranscoding(Transcoding):
    """Stores a PersonalText as its owner and the AES-GCM sealed text, never as plain text."""

    type = PersonalText
    name = "personal_text"

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def encode(self, obj: PersonalText) -> dict[str, str]:
        return {"owner": obj.owner.hex, "sealed": base64.b64encode(self.keyring.seal(obj)).decode()}

    def decode(self, data: dict[str, str]) -> PersonalText:
        return self.keyring.open(UUID(data["owner"]), base64.b64decode(data["sealed"]))


class MemoryKeyStore:
    """Keys in memory, for the in-memory (POPO) event store of the domain tests."""

    def __init__(self) -> None:
        self._keys: dict[UUID, bytes | None] = {}
        self._lock = threading.Lock()

    def get(self, owner: UUID) -> bytes | None:
        return self._keys.get(owner)

    def add(self, keys: dict[UUID, bytes]) -> dict[UUID, bytes | None]:
        with self._lock:
            return {owner: self._keys.setdefault(owner, key) for owner, key in keys.items()}

    def destroy(self, owners: Iterable[UUID]) -> None:
        with self._lock:
            self._keys.update(dict.fromkeys(owners))


class SqlKeyStore:
    """Keys in the `customer_keys` table of the event store's SQLite or PostgreSQL database.

    It uses the event store's own connection pool, so keys sit beside the events they open and
    are backed up (and restored) with them.
    """

    def __init__(self, datastore: Any, postgres: bool) -> None:
        self.datastore = datastore
        self.postgres = postgres
        if postgres:
            self.table = f'"{datastore.schema}".customer_keys'
            key_type = "BYTEA"
        else:
            self.table = "customer_keys"
            key_type = "BLOB"
        with self._transaction() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} "
                f"(owner_id TEXT PRIMARY KEY, key {key_type}, created_at TEXT NOT NULL, destroyed_at TEXT)"
            )

    @contextmanager
    def _transaction(self, secure_delete: bool = False) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            if secure_delete and not self.postgres:
                # Overwrite the old key's bytes in the file instead of leaving them in a free block.
                cursor.execute("PRAGMA secure_delete = ON")
            yield cursor

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def get(self, owner: UUID) -> bytes | None:
        with self._transaction() as cursor:
            cursor.execute(self._sql(f"SELECT key FROM {self.table} WHERE owner_id = ?"), (str(owner),))
            row = cursor.fetchone()
        return None if row is None or row["key"] is None else bytes(row["key"])

    def add(self, keys: dict[UUID, bytes]) -> dict[UUID, bytes | None]:
        now = _now()
        with self._transaction() as cursor:
            cursor.executemany(
                self._sql(
                    f"INSERT INTO {self.table} (owner_id, key, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (owner_id) DO NOTHING"
                ),
                [(str(owner), key, now) for owner, key in keys.items()],
            )
            stored: dict[UUID, bytes | None] = {}
            for owner in keys:
                cursor.execute(self._sql(f"SELECT key FROM {self.table} WHERE owner_id = ?"), (str(owner),))
                key = cursor.fetchone()["key"]
                stored[owner] = None if key is None else bytes(key)
        return stored

    def destroy(self, owners: Iterable[UUID]) -> None:
        now = _now()
        with self._transaction(secure_delete=True) as cursor:
            for owner in owners:
                cursor.execute(
                    self._sql(
                        f"INSERT INTO {self.table} (owner_id, key, created_at, destroyed_at) VALUES (?, NULL, ?, ?) "
                        "ON CONFLICT (owner_id) DO UPDATE SET key = NULL, destroyed_at = excluded.destroyed_at"
                    ),
                    (str(owner), now, now),
                )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def key_store_for(recorder: Any) -> KeyStore:
    """The key store beside the application's event store."""
    datastore = getattr(recorder, "datastore", None)
    if datastore is None:
        return MemoryKeyStore()
    return SqlKeyStore(datastore, postgres=hasattr(datastore, "schema"))
