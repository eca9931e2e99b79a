"""Conversation requests and answers."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from domain.classification import KINDS, PRIORITIES
from service.runtime import application
from service.schemas.common import (
    CHANNEL,
    EXTERNAL_ID_MAX,
    NAME_MAX,
    REASON_MAX,
    TEXT_MAX,
    Actor,
    NoControlCharacters,
    Recorded,
    Text,
    WholeNumber,
    occurred_at,
)


class InboundMessage(Schema):
    text = Text(TEXT_MAX, required=True)
    external_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(min=1, max=EXTERNAL_ID_MAX), NoControlCharacters()],
        metadata={"description": "The channel's id of the message; each is recorded once per channel"},
    )
    occurred_at = occurred_at(load_default=None)


class ConversationStart(Schema):
    customer_id = fields.UUID(required=True)
    channel = fields.String(required=True, validate=CHANNEL)
    subject = Text(NAME_MAX, load_default=None, allow_none=True)
    visibility = fields.String(load_default="public", validate=validate.OneOf(["public", "private"]))
    occurred_at = occurred_at(load_default=None)
    message = fields.Nested(InboundMessage, load_default=None, allow_none=True)


class Reply(Schema):
    text = Text(TEXT_MAX, required=True)
    external_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(min=1, max=EXTERNAL_ID_MAX), NoControlCharacters()],
    )
    occurred_at = occurred_at(load_default=None)


class Note(Schema):
    text = Text(TEXT_MAX, required=True)


class AssigneeChange(Schema):
    agent_id = fields.UUID(required=True, allow_none=True, metadata={"description": "null unassigns"})


class ClassificationChange(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))


class PriorityChange(Schema):
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))


class Escalation(Schema):
    reason = Text(REASON_MAX, required=True)


class SatisfactionRating(Schema):
    rating = WholeNumber(required=True, validate=validate.Range(1, 5))
    comment = Text(TEXT_MAX, load_default=None, allow_none=True)


class Retraction(Schema):
    reason = Text(REASON_MAX, required=True)


class Sentiment(Schema):
    compound = fields.Float()
    analyser = fields.String()
    version = fields.String()


class RetractionRecord(Recorded):
    reason = fields.String()


class Message(Schema):
    id = fields.UUID()
    direction = fields.String(metadata={"enum": ["inbound", "outbound"]})
    text = fields.String()
    external_id = fields.String(allow_none=True)
    occurred_at = fields.AwareDateTime()
    sentiment = fields.Nested(Sentiment, allow_none=True)
    author = fields.Nested(Actor)
    retracted = fields.Method("is_retracted", metadata={"type": "boolean"})
    retraction = fields.Nested(RetractionRecord, allow_none=True)

    def is_retracted(self, message: dict[str, Any]) -> bool:
        return message["retraction"] is not None


class NoteRecord(Schema):
    id = fields.UUID()
    text = fields.String()
    occurred_at = fields.AwareDateTime()
    author = fields.Nested(Actor)


class Assignee(Schema):
    id = fields.UUID()
    name = fields.String()


class EscalationRecord(Recorded):
    reason = fields.String()


class CsatRecord(Schema):
    rating = fields.Integer()
    comment = fields.String(allow_none=True)
    occurred_at = fields.AwareDateTime()


class Conversation(Schema):
    id = fields.UUID()
    version = fields.Integer()
    customer_id = fields.UUID()
    channel = fields.String()
    subject = fields.String(allow_none=True)
    visibility = fields.String(metadata={"enum": ["public", "private"]})
    status = fields.String(metadata={"enum": ["open", "pending", "resolved"]})
    kind = fields.String(allow_none=True, metadata={"enum": [*KINDS, None]})
    kind_source = fields.String(allow_none=True, metadata={"enum": ["automatic", "agent", None]})
    priority = fields.String(metadata={"enum": list(PRIORITIES)})
    assignee = fields.Nested(Assignee, allow_none=True)
    escalation = fields.Nested(EscalationRecord, allow_none=True)
    messages = fields.List(fields.Nested(Message))
    notes = fields.List(fields.Nested(NoteRecord))
    csat = fields.List(fields.Nested(CsatRecord))
    started_at = fields.AwareDateTime()
    last_activity_at = fields.AwareDateTime()
    first_inbound_at = fields.AwareDateTime(allow_none=True)
    first_reply_at = fields.AwareDateTime(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    merged_into = fields.UUID(
        allow_none=True, metadata={"description": "The conversation this one turned out to continue, if any"}
    )
    first_response_seconds = fields.Method("first_response", metadata={"type": ["number", "null"]})
    first_response_due_at = fields.Method("first_response_due", metadata={"type": ["string", "null"]})
    resolution_due_at = fields.Method("resolution_due", metadata={"type": ["string", "null"]})

    def first_response(self, conversation: Any) -> float | None:
        if conversation.first_inbound_at is None or conversation.first_reply_at is None:
            return None
        return max(0.0, (conversation.first_reply_at - conversation.first_inbound_at).total_seconds())

    def first_response_due(self, conversation: Any) -> str | None:
        due = application().targets.first_response_due(conversation.first_inbound_at, conversation.priority)
        return due.isoformat() if due else None

    def resolution_due(self, conversation: Any) -> str | None:
        due = application().targets.resolution_due(conversation.first_inbound_at)
        return due.isoformat() if due else None
