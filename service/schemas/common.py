"""Fields and limits shared by every resource."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

TEXT_MAX = 10_000
NAME_MAX = 200
TAG_MAX = 50
REASON_MAX = 1_000
EXTERNAL_ID_MAX = 200

CHANNEL = validate.Regexp(r"^[a-z][a-z0-9_-]{0,31}$", error="a channel is lowercase letters, digits, - or _")


class Text(fields.String):
    """A string that must hold something besides whitespace, within a length limit."""

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(max=max_length), **kwargs)
        self.metadata.setdefault("maxLength", max_length)
        self.metadata.setdefault("minLength", 1)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        # NFC: the same words typed on two keyboards ("é" as one or two code points) are one text.
        text = unicodedata.normalize("NFC", super()._deserialize(value, attr, data, **kwargs))
        if not text.strip():
            raise ValidationError("must not be empty")
        check_no_control_characters(text)
        return text


# Control characters other than tab and line breaks: they corrupt logs, CSV exports and terminals.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_no_control_characters(text: str) -> None:
    if CONTROL_CHARACTERS.search(text):
        raise ValidationError("must not contain control characters (tab and line breaks are fine)")


def occurred_at(**kwargs: Any) -> fields.AwareDateTime:
    """When it happened on the channel: RFC 3339 with an offset; defaults to now."""
    return fields.AwareDateTime(
        metadata={"description": "When it happened on the channel (RFC 3339 with offset); defaults to now"},
        **kwargs,
    )


class Actor(Schema):
    kind = fields.String(required=True, metadata={"enum": ["agent", "customer", "system"]})
    id = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class Recorded(Schema):
    """Something that happened: when, and who did it."""

    occurred_at = fields.AwareDateTime()
    actor = fields.Nested(Actor)


def page_of(row: type[Schema], name: str) -> type[Schema]:
    """A page of a keyset-paginated list: its rows, and the cursor of the next page (null on the last)."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(row)), "next_cursor": fields.String(allow_none=True)}, name=name
    )
