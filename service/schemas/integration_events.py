"""The documented shape of integration events: an envelope and one payload schema per type.

These schemas only document (the feed's bytes come from projections/integration_events.py); a
test validates every type's real items against them, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from domain.classification import KINDS, PRIORITIES
from domain.contribution import CONTRIBUTION_KINDS, CONTRIBUTION_STATUSES
from projections.integration_events import PUBLISHED, TYPES
from service.pagination import MAX_LIMIT

FEED_DEFAULT_LIMIT = 100


def _uuid(description: str | None = None) -> fields.UUID:
    return fields.UUID(required=True, metadata={"description": description} if description else {})


def _text(description: str, nullable: bool = False) -> fields.String:
    note = ' ("[forgotten]" once the customer was forgotten)'
    return fields.String(required=True, allow_none=nullable, metadata={"description": description + note})


def _enum(values: Any, nullable: bool = False) -> fields.String:
    return fields.String(required=True, allow_none=nullable, validate=validate.OneOf(list(values)))


SOURCE = _enum(["automatic", "agent"])
CUSTOMER = {"customer_id": _uuid("The customer it is about")}
CONVERSATION = {"conversation_id": _uuid(), **CUSTOMER}
CONTRIBUTION = {"contribution_id": _uuid(), "customer_id": _uuid("The contribution's author")}


class EventIdentity(Schema):
    channel = fields.String(required=True)
    handle = _text("The handle on the channel")


class EventSentiment(Schema):
    compound = fields.Float(required=True, metadata={"minimum": -1, "maximum": 1, "description": "VADER compound"})
    analyser = fields.String(required=True)
    version = fields.String(required=True)


class EventAuthor(Schema):
    id = fields.String(required=True, allow_none=True)
    name = fields.String(required=True, allow_none=True)


class EventAssignee(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)


class EventProfileChanges(Schema):
    """Only the fields that changed are present."""

    name = fields.String(metadata={"description": 'New name ("[forgotten]" once the customer was forgotten)'})
    email = fields.String(allow_none=True, metadata={"description": "New e-mail (idem)"})
    locale = fields.String(allow_none=True)


PAYLOAD_FIELDS: dict[str, dict[str, fields.Field[Any]]] = {
    "customer.registered": {
        **CUSTOMER,
        "name": _text("Name"),
        "email": _text("E-mail", nullable=True),
        "locale": fields.String(required=True, allow_none=True),
        "identities": fields.List(fields.Nested(EventIdentity), required=True),
    },
    "customer.updated": {
        **CUSTOMER,
        "changes": fields.Nested(EventProfileChanges, required=True, metadata={"description": "Only what changed"}),
    },
    "customer.identity_linked": {**CUSTOMER, "channel": fields.String(required=True), "handle": _text("Handle")},
    "customer.identity_unlinked": {**CUSTOMER, "channel": fields.String(required=True), "handle": _text("Handle")},
    "customer.tagged": {**CUSTOMER, "tag": fields.String(required=True)},
    "customer.untagged": {**CUSTOMER, "tag": fields.String(required=True)},
    "customer.consent_changed": {
        **CUSTOMER,
        "marketing_consent": fields.Boolean(required=True, metadata={"description": "Given (true) or withdrawn"}),
        "source": fields.String(required=True, allow_none=True),
    },
    "customer.merged": {**CUSTOMER, "survivor_id": _uuid("The customer it was merged into")},
    "customer.forgotten": dict(CUSTOMER),
    "nps.given": {
        **CUSTOMER,
        "score": fields.Integer(required=True, validate=validate.Range(0, 10)),
        "comment": _text("Comment", nullable=True),
    },
    "conversation.started": {
        **CONVERSATION,
        "channel": fields.String(required=True),
        "subject": _text("Subject", nullable=True),
        "visibility": _enum(["public", "private"]),
    },
    "conversation.merged": {**CONVERSATION, "survivor_id": _uuid("The conversation it continues as")},
    "message.received": {
        **CONVERSATION,
        "message_id": _uuid(),
        "text": _text("The customer's message"),
        "external_id": fields.String(required=True, allow_none=True, metadata={"description": "The channel's id"}),
        "sentiment": fields.Nested(EventSentiment, required=True),
    },
    "reply.sent": {
        **CONVERSATION,
        "message_id": _uuid(),
        "text": _text("The reply"),
        "external_id": fields.String(required=True, allow_none=True),
        "author": fields.Nested(EventAuthor, required=True, metadata={"description": "The agent who signed it"}),
    },
    "message.retracted": {**CONVERSATION, "message_id": _uuid(), "reason": _text("Why")},
    "conversation.classified": {**CONVERSATION, "kind": _enum(KINDS), "source": SOURCE},
    "conversation.priority_changed": {**CONVERSATION, "priority": _enum(PRIORITIES), "source": SOURCE},
    "conversation.assigned": {**CONVERSATION, "assignee": fields.Nested(EventAssignee, required=True)},
    "conversation.unassigned": dict(CONVERSATION),
    "conversation.escalated": {**CONVERSATION, "reason": _text("Why")},
    "conversation.resolved": dict(CONVERSATION),
    "conversation.reopened": {
        **CONVERSATION,
        "automatic": fields.Boolean(required=True, metadata={"description": "Reopened by a new inbound message"}),
    },
    "csat.rated": {
        **CONVERSATION,
        "rating": fields.Integer(required=True, validate=validate.Range(1, 5)),
        "comment": _text("Comment", nullable=True),
    },
    "contribution.submitted": {
        **CONTRIBUTION,
        "kind": _enum(CONTRIBUTION_KINDS),
        "title": _text("Title"),
        "body": _text("Body"),
        "rating": fields.Integer(required=True, allow_none=True, metadata={"description": "Reviews only, 1–5"}),
        "referred_handle": _text("Referrals only", nullable=True),
    },
    "contribution.endorsed": {**CONTRIBUTION, "endorser_id": _uuid("The customer who endorsed it")},
    "contribution.status_changed": {
        **CONTRIBUTION,
        "status": _enum(CONTRIBUTION_STATUSES),
        "previous": _enum(CONTRIBUTION_STATUSES),
        "note": _text("Note", nullable=True),
    },
    "contribution.rewarded": {**CONTRIBUTION, "description": _text("The recognition")},
    "contribution.referral_converted": {**CONTRIBUTION, "new_customer_id": _uuid("The referred, now a customer")},
}


class EventActor(Schema):
    kind = _enum(["agent", "customer", "system"])
    id = fields.String(required=True, allow_none=True)
    name = fields.String(required=True, allow_none=True)


def _component_name(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.replace("_", ".").split("."))


def _envelope(event_type: str) -> type[Schema]:
    version = max(t.version for t in PUBLISHED.values() if t.name == event_type)
    summary = next(t.summary for t in PUBLISHED.values() if t.name == event_type)
    payload = Schema.from_dict(PAYLOAD_FIELDS[event_type], name=f"{_component_name(event_type)}Payload")
    return Schema.from_dict(
        {
            "id": fields.Integer(
                required=True,
                metadata={"minimum": 1, "description": "The position in the event log: unique, increasing"},
            ),
            "type": _enum([event_type]),
            "version": fields.Integer(
                required=True, validate=validate.OneOf([version]), metadata={"description": "Of the payload schema"}
            ),
            "occurred_at": fields.AwareDateTime(required=True, metadata={"description": "When it happened"}),
            "recorded_at": fields.AwareDateTime(required=True, metadata={"description": "When it was recorded"}),
            "actor": fields.Nested(EventActor, required=True, metadata={"description": "Who did it"}),
            "payload": fields.Nested(payload, required=True, metadata={"description": summary}),
        },
        name=f"{_component_name(event_type)}Event",
    )


ENVELOPES: dict[str, type[Schema]] = {event_type: _envelope(event_type) for event_type in TYPES}

INTEGRATION_EVENT = {
    "oneOf": list(ENVELOPES.values()),
    "discriminator": {
        "propertyName": "type",
        "mapping": {t: f"#/components/schemas/{schema.__name__}" for t, schema in ENVELOPES.items()},
    },
}

FEED_PAGE = {
    "type": "object",
    "required": ["items", "next_after", "has_more"],
    "additionalProperties": False,
    "properties": {
        "items": {"type": "array", "items": INTEGRATION_EVENT},
        "next_after": {
            "type": "integer",
            "minimum": 0,
            "description": "Send it as `after` next time; it moves past internal events too",
        },
        "has_more": {"type": "boolean", "description": "The page is full: ask again at once"},
    },
}


class FeedArgs(Schema):
    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0),
        metadata={"description": "The id (position) of the last event you have; 0 for the beginning"},
    )
    limit = fields.Integer(load_default=FEED_DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))
    type = fields.List(
        fields.String(validate=validate.OneOf(TYPES)),
        load_default=list,
        metadata={"description": "Only these types (repeat the parameter for several)"},
    )
