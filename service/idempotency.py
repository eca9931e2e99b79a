"""Idempotency keys: a POST retried with the same `Idempotency-Key` has its effect at most once.

As Stripe does and the IETF draft "The Idempotency-Key HTTP Header Field" describes: the first
request with a key runs and its answer is kept for 24 hours; a retry with the same key and the
same request gets that answer again, byte for byte, without running; the same key with another
request is refused (422); a retry while the first is still running is refused (409, Retry-After).

The records live in a table of the event store's own database, so every process and every machine
sees them. They are keyed by the authenticated agent, never by the bearer token, so two agents'
keys never meet and no credential is stored.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apispec import BasePlugin
from flask import Flask, Response, g, request

from projections.database import Row, Transaction, ViewDatabase
from service.auth import authenticated_agent
from service.errors import (
    BadHeaderError,
    IdempotencyKeyInProgressError,
    IdempotencyKeyNotAcceptedError,
    IdempotencyKeyReusedError,
)
from service.runtime import idempotency_keys

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
EXPIRY = timedelta(hours=24)
# A request still marked in progress after this long belongs to a process that died (gunicorn
# kills a worker after 30 s): its key is taken over rather than refused with 409 for a day. The
# dead request may have recorded its event before dying, but a client locked out would retry
# with a new key anyway, which has the same risk.
LEASE = timedelta(seconds=60)
# 1 to 255 visible ASCII characters: what fits in any header and any index.
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# What a client needs to use the answer; the security headers are added to a replay afresh.
KEPT_HEADERS = ("Content-Type", "Location", "ETag", "Conversa-Position")
# Final answers are kept, so that a retry learns what happened to its first attempt (a refusal
# too: it is the answer to that request, and the key names one attempt, not a goal). Not these:
# each says "this attempt did not happen, try again" (a lost race or a conflict that may clear,
# a stale If-Match to read again, a rate limit) and records no event, so running the retry is
# safe and keeping the refusal would only repeat it for a day. 5xx answers are not kept either.
NOT_FINAL = frozenset({409, 412, 429})
# Their answers hold a bearer token, shown once: keeping one for a replay would store a credential.
SECRET_ANSWERS = frozenset({"agents.Agents", "agents.Token"})

TABLE = """CREATE TABLE IF NOT EXISTS idempotency_keys (
    agent_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    path TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    owner TEXT,
    status INTEGER,
    headers TEXT,
    body {binary},
    PRIMARY KEY (agent_id, idempotency_key))"""
INDEX = "CREATE INDEX IF NOT EXISTS idempotency_keys_started_at ON idempotency_keys (started_at)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Claim:
    """This request runs the key's request; `owner` tells its record from a later taker's."""

    agent_id: str
    key: str
    owner: str


@dataclass(frozen=True)
class StoredAnswer:
    """The answer kept for a key: what a replay sends again."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class IdempotencyKeys:
    """The records of idempotency keys, in the table `idempotency_keys`."""

    def __init__(self, database: ViewDatabase, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.database = database
        self.clock = clock

    def setup(self) -> None:
        with self.database.transaction() as tx:
            tx.execute(TABLE.format(binary="BYTEA" if self.database.is_postgres else "BLOB"))
            tx.execute(INDEX)

    def _now(self) -> int:
        """Microseconds since the epoch: one integer column that both engines compare alike."""
        return (self.clock() - _EPOCH) // timedelta(microseconds=1)

    def claim(self, agent_id: str, key: str, fingerprint: str, path: str) -> Claim | StoredAnswer:
        """Take the key for this request, or the answer its first request gave.

        The primary key makes taking it atomic: of two requests racing, one inserts, the other
        finds its record (PostgreSQL makes the second insert wait for the first to commit).
        """
        now = self._now()
        owner = uuid.uuid4().hex
        while True:
            with self.database.transaction() as tx:
                # Purged lazily, in the claim's own transaction, so no timer is needed; the index
                # keeps it cheap.
                tx.execute("DELETE FROM idempotency_keys WHERE started_at <= ?", (now - _micros(EXPIRY),))
                inserted = tx.rowcount(
                    "INSERT INTO idempotency_keys (agent_id, idempotency_key, fingerprint, path, started_at, owner) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id, idempotency_key) DO NOTHING",
                    (agent_id, key, fingerprint, path, now, owner),
                )
                if inserted:
                    return Claim(agent_id, key, owner)
                rows = tx.query(
                    "SELECT fingerprint, started_at, status, headers, body FROM idempotency_keys "
                    "WHERE agent_id = ? AND idempotency_key = ?",
                    (agent_id, key),
                )
                if rows:
                    return self._existing(tx, Claim(agent_id, key, owner), fingerprint, now, rows[0])
            # PostgreSQL reads each statement afresh: the record was released or purged between
            # the two. Try again; SQLite's write lock over the whole transaction never gets here.

    def _existing(self, tx: Transaction, claim: Claim, fingerprint: str, now: int, row: Row) -> Claim | StoredAnswer:
        """The answer kept for the key, or the key itself if its first request was abandoned."""
        found_fingerprint, started_at, status, headers, body = row
        if found_fingerprint != fingerprint:
            raise IdempotencyKeyReusedError(
                f"the {HEADER} {claim.key!r} was used with another request; use a new key for a new request"
            )
        if status is not None:
            return StoredAnswer(int(status), [(name, value) for name, value in json.loads(headers)], bytes(body))
        abandoned = now - _micros(LEASE)
        if started_at > abandoned or not tx.rowcount(
            "UPDATE idempotency_keys SET owner = ?, started_at = ? "
            "WHERE agent_id = ? AND idempotency_key = ? AND status IS NULL AND started_at <= ?",
            (claim.owner, now, claim.agent_id, claim.key, abandoned),
        ):
            raise IdempotencyKeyInProgressError(f"a request with the {HEADER} {claim.key!r} is still being processed")
        return claim

    def finish(self, claim: Claim, answer: StoredAnswer) -> None:
        """Keep the answer; if the record was purged meanwhile (a forget), it stays gone."""
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE idempotency_keys SET owner = NULL, status = ?, headers = ?, body = ? "
                "WHERE agent_id = ? AND idempotency_key = ? AND owner = ?",
                (answer.status, json.dumps(answer.headers), answer.body, claim.agent_id, claim.key, claim.owner),
            )

    def release(self, claim: Claim) -> None:
        """Forget the attempt, so that the client may retry with the same key."""
        with self.database.transaction() as tx:
            tx.execute(
                "DELETE FROM idempotency_keys WHERE agent_id = ? AND idempotency_key = ? AND owner = ?",
                (claim.agent_id, claim.key, claim.owner),
            )


def _micros(duration: timedelta) -> int:
    return duration // timedelta(microseconds=1)


def purge_mentioning(database: ViewDatabase, ids: Iterable[uuid.UUID | str]) -> int:
    """Delete every record whose path or kept answer mentions one of these ids (a forgotten
    customer's: every answer about a customer holds its id); the number deleted."""
    # A full scan: forgetting is rare and the table holds one day of POSTs. Requests' bodies are
    # not kept (only their hash), so the answers and paths are all that can hold personal data.
    # The one spelling the engines differ in: a substring test that works on text and on bytes.
    holds = "position(? in {column}) > 0" if database.is_postgres else "instr({column}, ?) > 0"
    sql = f"DELETE FROM idempotency_keys WHERE {holds.format(column='path')} OR {holds.format(column='body')}"
    deleted = 0
    with database.transaction() as tx:
        for id_ in {str(i).lower() for i in ids}:  # answers spell UUIDs in lower case
            deleted += tx.rowcount(sql, (id_, id_.encode()))
    return deleted


def fingerprint() -> str:
    """sha-256 of what makes a request this request: method, path, query, If-Match and body."""
    digest = hashlib.sha256()
    parts = (
        request.method.encode(),
        request.path.encode(),
        request.query_string,
        # A change refused for a stale If-Match is not kept; the retry with the new one is another
        # request, and must not be answered with the first one's result.
        request.headers.get("If-Match", "").encode(),
        request.get_data(),
    )
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no two splits hash alike
        digest.update(part)
    return digest.hexdigest()


def install(app: Flask) -> None:
    """Honour Idempotency-Key on every POST of the app."""

    @app.before_request
    def claim_or_replay() -> Response | None:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or request.routing_exception is not None:
            return None
        # The record is keyed by the agent, so authenticate before the view does (it checks
        # again, with the role); an unauthenticated request gets its 401 here.
        agent = authenticated_agent()
        if not _KEY.fullmatch(key):
            raise BadHeaderError(f"{HEADER} must be 1 to 255 visible ASCII characters")
        if request.endpoint in SECRET_ANSWERS:
            raise IdempotencyKeyNotAcceptedError(
                f"{request.path} does not accept {HEADER}: its answer holds a token, which is never stored"
            )
        outcome = idempotency_keys().claim(str(agent.id), key, fingerprint(), request.path)
        if isinstance(outcome, StoredAnswer):
            replay = Response(outcome.body, status=outcome.status, headers=outcome.headers)
            replay.headers[REPLAYED_HEADER] = "true"
            return replay
        g.idempotency_claim = outcome
        return None

    @app.after_request
    def keep_final_answer(response: Response) -> Response:
        claim: Claim | None = g.get("idempotency_claim")
        if claim is None:
            return response
        status = response.status_code
        if 200 <= status < 500 and status not in NOT_FINAL and not response.is_streamed:
            headers = [(name, response.headers[name]) for name in KEPT_HEADERS if name in response.headers]
            idempotency_keys().finish(claim, StoredAnswer(status, headers, response.get_data()))
        else:
            idempotency_keys().release(claim)
        g.pop("idempotency_claim")  # only now: if keeping it failed, the teardown below frees the key
        return response

    @app.teardown_request
    def release_unfinished(error: BaseException | None) -> None:
        # after_request does not run when the answer itself could not be made; free the key then.
        claim: Claim | None = g.pop("idempotency_claim", None)
        if claim is not None:
            idempotency_keys().release(claim)


PARAMETER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": "1 to 255 visible ASCII characters, new for each new request. A retry with the same key and "
    "the same request (method, path, query, If-Match, body) within 24 h gets the first answer again, byte for "
    f"byte, with {REPLAYED_HEADER}: true, and records nothing; with another request: 422; while the first "
    "is still running: 409 with Retry-After. Not accepted where the answer holds a token.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}
REPLAYED_DOC = {
    "description": f"true when this is the kept answer of an earlier request with the same {HEADER}",
    "schema": {"type": "string", "enum": ["true"]},
}


class IdempotencyKeyDocs(BasePlugin):
    """Documents the optional Idempotency-Key header, and its 409 and 422, on every POST."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        rule = kwargs.get("rule")
        post = (operations or {}).get("post")
        if post is None or rule is None or rule.endpoint in SECRET_ANSWERS:
            return
        post.setdefault("parameters", []).append(copy.deepcopy(PARAMETER_DOC))
        responses = post.setdefault("responses", {})
        for status, response in responses.items():
            if str(status).startswith("2") and isinstance(response, dict):
                response.setdefault("headers", {})[REPLAYED_HEADER] = copy.deepcopy(REPLAYED_DOC)
        # Names of flask-smorest's problem responses; apispec turns them into references.
        responses.setdefault("409", "CONFLICT")
        responses.setdefault("422", "UNPROCESSABLE_ENTITY")
