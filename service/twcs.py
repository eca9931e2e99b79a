"""The public "Customer Support on Twitter" (twcs) CSV format, read as channel messages.

Columns: tweet_id, author_id, inbound (TRUE: a customer; FALSE: a brand's support account),
created_at ("Tue Oct 31 22:10:47 +0000 2017"), text (HTML entities as Twitter sent them),
response_tweet_id (damaged in some copies: not used), in_response_to_tweet_id.
Every row goes through the same validation as the ingest API, then through the same ingest code.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from domain.ingest import ChannelMessage
from service.schemas.ingest import ChannelMessage as ChannelMessageSchema
from service.schemas.ingest import Invalid

CHANNEL = "twitter"
TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"


@dataclass(frozen=True)
class Row:
    """One tweet of the file: valid as a channel message, or the reason it is not."""

    line: int
    tweet_id: str
    message: ChannelMessage | None
    problem: str | None = None


def read_rows(path: Path) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8") as file:
        for line, record in enumerate(csv.DictReader(file), start=2):
            yield _row(line, record)


def _row(line: int, record: dict[str, Any]) -> Row:
    tweet_id = (record.get("tweet_id") or "").strip()
    try:
        occurred_at = datetime.strptime((record.get("created_at") or "").strip(), TIME_FORMAT).isoformat()
    except ValueError:
        return Row(line, tweet_id, None, f"created_at is not like {TIME_FORMAT!r}")
    item = {
        "channel": CHANNEL,
        "external_id": tweet_id,
        "direction": "inbound" if (record.get("inbound") or "").strip().upper() == "TRUE" else "outbound",
        "author": {"handle": "@" + (record.get("author_id") or "").strip()},
        "text": html.unescape(record.get("text") or ""),
        "occurred_at": occurred_at,
        "in_reply_to": (record.get("in_response_to_tweet_id") or "").strip() or None,
    }
    try:
        message: ChannelMessage = ChannelMessageSchema().load(item)
    except ValidationError as error:
        return Row(line, tweet_id, None, Invalid(item, error.messages).outcome().reason)
    return Row(line, tweet_id, message)


def in_brand_threads(rows: list[Row], brand: str) -> list[Row]:
    """The rows of the reply threads in which the brand's account wrote at least once."""
    parent = {row.tweet_id: row.message.in_reply_to for row in rows if row.message}
    handle = "@" + brand.lstrip("@").casefold()

    def root(tweet_id: str) -> str:
        seen: set[str] = set()
        while (up := parent.get(tweet_id)) in parent and tweet_id not in seen:
            seen.add(tweet_id)
            tweet_id = up  # type: ignore[assignment]
        return tweet_id

    branded = {root(r.tweet_id) for r in rows if r.message and r.message.author_handle.casefold() == handle}
    return [row for row in rows if row.message and root(row.tweet_id) in branded]
