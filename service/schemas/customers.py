"""Customer requests and answers."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.schemas.common import (
    BLANK_OR_CONTROL,
    CHANNEL,
    CONTROL_CHARACTERS,
    NAME_MAX,
    REASON_MAX,
    TAG_MAX,
    TEXT_MAX,
    Actor,
    Pattern,
    Recorded,
    Text,
    WholeNumber,
    occurred_at,
    page_of,
)

LOCALE = Pattern(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", error="a locale is a BCP 47 tag like en or pt-BR")
# A tag is one line: visible characters at both ends, no control characters or line breaks inside.
TAG = Pattern(
    f"^[^{BLANK_OR_CONTROL}](?:[^{CONTROL_CHARACTERS}\\t\\n\\r]*[^{BLANK_OR_CONTROL}])?$",
    error="a tag is one line, with no surrounding spaces and no control characters",
)


class Identity(Schema):
    channel = fields.String(required=True, validate=CHANNEL)
    handle = Text(NAME_MAX, required=True)


class CustomerCreate(Schema):
    name = Text(NAME_MAX, required=True)
    identities = fields.List(fields.Nested(Identity), load_default=list, validate=validate.Length(max=20))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    locale = fields.String(load_default=None, allow_none=True, validate=LOCALE)


class CustomerPatch(Schema):
    class Meta:
        json_schema: ClassVar[dict[str, Any]] = {"minProperties": 1}

    name = Text(NAME_MAX)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    locale = fields.String(allow_none=True, validate=LOCALE)

    @validates_schema
    def check_not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("give at least one of name, email, locale")


class JsonBoolean(fields.Boolean):
    """Only JSON true or false: 1 == True in Python, so truthy={True} alone would take 1 and 0."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class ConsentChange(Schema):
    given = JsonBoolean(required=True)
    source = Text(REASON_MAX, load_default=None, allow_none=True, metadata={"description": "How consent was obtained"})


class NpsAnswer(Schema):
    score = WholeNumber(required=True, validate=validate.Range(0, 10))
    comment = Text(TEXT_MAX, load_default=None, allow_none=True)
    occurred_at = occurred_at(load_default=None)


class TagRequest(Schema):
    tag = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=TAG_MAX), TAG],
    )


class MergeRequest(Schema):
    duplicate_id = fields.UUID(required=True, metadata={"description": "The customer merged into this one"})


class ForgetRequest(Schema):
    reason = Text(REASON_MAX, load_default=None, allow_none=True)


class IdentityPath(Schema):
    channel = fields.String(required=True, validate=CHANNEL)
    handle = Text(NAME_MAX, required=True)


class ConsentRecord(Recorded):
    given = fields.Boolean()
    source = fields.String(allow_none=True)


class NpsRecord(Schema):
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    occurred_at = fields.AwareDateTime()


class Customer(Schema):
    id = fields.UUID()
    version = fields.Integer()
    name = fields.String()
    identities = fields.List(fields.Nested(Identity))
    email = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    marketing_consent = fields.Boolean()
    consent_history = fields.List(fields.Nested(ConsentRecord))
    latest_nps = fields.Integer(allow_none=True)
    nps_history = fields.List(fields.Nested(NpsRecord))
    merged_into = fields.UUID(allow_none=True)
    merged_duplicates = fields.List(fields.UUID())
    forgotten = fields.Method("is_forgotten", metadata={"type": "boolean"})
    forgotten_at = fields.AwareDateTime(allow_none=True)
    registered_at = fields.AwareDateTime()

    def is_forgotten(self, customer: Any) -> bool:
        return customer.forgotten_at is not None


class TimelineEntry(Schema):
    type = fields.String(metadata={"description": "e.g. conversation.reply_sent"})
    occurred_at = fields.AwareDateTime()
    recorded_at = fields.AwareDateTime()
    actor = fields.Nested(Actor)
    summary = fields.String()
    aggregate_type = fields.String(metadata={"enum": ["customer", "conversation", "contribution"]})
    aggregate_id = fields.UUID()


TimelinePage = page_of(TimelineEntry, "TimelinePage")
