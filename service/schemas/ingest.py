"""Batch ingest: many channel messages per call, each validated on its own."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from domain import ingest as domain
from domain.ingest import MAX_BATCH, Outcome
from service.schemas.common import CHANNEL, EXTERNAL_ID_MAX, NAME_MAX, TEXT_MAX, NoControlCharacters, Text

EXTERNAL_ID = [validate.Length(min=1, max=EXTERNAL_ID_MAX), NoControlCharacters()]


class Invalid:
    """An item of a batch that failed validation: it is answered as rejected, with the reasons."""

    def __init__(self, item: Any, errors: Any) -> None:
        self.external_id = item.get("external_id") if isinstance(item, dict) else None
        self.errors = errors

    def outcome(self) -> Outcome:
        external_id = self.external_id if isinstance(self.external_id, str) else ""
        return Outcome(external_id, "rejected", "invalid: " + "; ".join(_described(self.errors)))


def _described(errors: Any, path: str = "") -> list[str]:
    """Marshmallow's nested error messages as "field.subfield: message" lines."""
    if isinstance(errors, dict):
        return [line for key, value in errors.items() for line in _described(value, f"{path}{key}.")]
    if isinstance(errors, list):
        return [f"{path.rstrip('.') or 'message'}: {error}" for error in errors]
    return [f"{path.rstrip('.') or 'message'}: {errors}"]


class EachValidated(fields.List):
    """A list validated item by item: a bad item becomes an `Invalid`, the others still load."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        items: list[Any] = []
        for item in value:
            try:
                items.append(self.inner.deserialize(item, **kwargs))
            except ValidationError as error:
                items.append(Invalid(item, error.messages))
        return items


class Author(Schema):
    handle = Text(NAME_MAX, required=True, metadata={"description": "The author's handle on the channel"})
    name = Text(NAME_MAX, load_default=None, allow_none=True)


class ChannelMessage(Schema):
    channel = fields.String(required=True, validate=CHANNEL)
    external_id = fields.String(
        required=True, validate=EXTERNAL_ID, metadata={"description": "The channel's id; each is recorded once"}
    )
    direction = fields.String(required=True, validate=validate.OneOf(["inbound", "outbound"]))
    author = fields.Nested(
        Author,
        required=True,
        metadata={"description": "Inbound: the customer (found or created by handle). Outbound: the brand agent"},
    )
    text = Text(TEXT_MAX, required=True)
    occurred_at = fields.AwareDateTime(required=True, metadata={"description": "RFC 3339 with offset"})
    in_reply_to = fields.String(
        load_default=None,
        allow_none=True,
        validate=EXTERNAL_ID,
        metadata={"description": "The external id of the message this one answers, on the same channel"},
    )

    @post_load
    def to_message(self, data: dict[str, Any], **_: Any) -> domain.ChannelMessage:
        return domain.ChannelMessage(
            channel=data["channel"],
            external_id=data["external_id"],
            direction=data["direction"],
            author_handle=data["author"]["handle"],
            author_name=data["author"]["name"],
            text=data["text"],
            occurred_at=data["occurred_at"],
            in_reply_to=data["in_reply_to"],
        )


class IngestRequest(Schema):
    messages = EachValidated(
        fields.Nested(ChannelMessage),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH),
        metadata={"description": f"Up to {MAX_BATCH} messages, in any order"},
    )


class IngestResult(Schema):
    index = fields.Integer(metadata={"description": "The message's position in the request"})
    external_id = fields.String(allow_none=True)
    status = fields.String(
        metadata={
            "enum": ["created", "duplicate", "pending", "ignored", "rejected"],
            "description": "pending: a brand reply held until the message it answers arrives",
        }
    )
    reason = fields.String(allow_none=True)
    customer_id = fields.UUID(allow_none=True)
    conversation_id = fields.UUID(allow_none=True)
    message_id = fields.UUID(allow_none=True)


class IngestResponse(Schema):
    results = fields.List(fields.Nested(IngestResult))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "Results by status"})
