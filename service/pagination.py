"""Opaque keyset cursors: a page starts strictly after the key its cursor names."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def microseconds(moment: datetime) -> int:
    """A timestamp as an exact integer, so that cursor keys compare without float rounding."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise ValidationError("not a cursor this API issued") from None
    if not isinstance(key, list):
        raise ValidationError("not a cursor this API issued")
    return key


KeyTypes = tuple[type | tuple[type, ...], ...]


class Cursor(fields.String):
    """A cursor whose key has the given element types (a forged one is a 422, never a 500)."""

    def __init__(self, key_types: KeyTypes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_types = [t if isinstance(t, tuple) else (t,) for t in key_types]

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        key = decode_cursor(super()._deserialize(value, attr, data, **kwargs))
        if len(key) != len(self.key_types) or not all(
            type(part) in allowed for part, allowed in zip(key, self.key_types, strict=True)
        ):
            raise ValidationError("not a cursor this API issued")
        return key


def limit_field() -> fields.Integer:
    return fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))


def page_args(key_types: KeyTypes, name: str, **extra: fields.Field) -> type[Schema]:
    """Query arguments of a keyset-paginated list whose sort key has these element types."""
    return Schema.from_dict(
        {
            "limit": limit_field(),
            "cursor": Cursor(key_types, load_default=None, metadata={"description": "next_cursor of the last page"}),
            **extra,
        },
        name=name,
    )


def page(items: list[Any], key: Any, limit: int, after: list[Any] | None) -> dict[str, Any]:
    """The items after the cursor's key, in order, with the cursor of the next page (or None)."""
    remaining = [item for item in items if after is None or key(item) > after]
    selected = remaining[:limit]
    more = len(remaining) > limit
    return {"items": selected, "next_cursor": encode_cursor(key(selected[-1])) if more else None}
