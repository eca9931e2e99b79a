"""Contribution requests and answers."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from domain.contribution import CONTRIBUTION_KINDS, CONTRIBUTION_STATUSES
from service.schemas.common import NAME_MAX, REASON_MAX, TEXT_MAX, Recorded, Text, WholeNumber, occurred_at


class ContributionSubmit(Schema):
    customer_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CONTRIBUTION_KINDS))
    title = Text(NAME_MAX, required=True)
    body = Text(TEXT_MAX, required=True)
    rating = WholeNumber(
        load_default=None,
        allow_none=True,
        validate=validate.Range(1, 5),
        metadata={"description": "Reviews only, and required for them"},
    )
    referred_handle = Text(
        NAME_MAX, load_default=None, allow_none=True, metadata={"description": "Referrals only, and required for them"}
    )
    occurred_at = occurred_at(load_default=None)


class Endorsement(Schema):
    customer_id = fields.UUID(required=True, metadata={"description": "The endorsing customer (not the author)"})


class StatusChange(Schema):
    status = fields.String(required=True, validate=validate.OneOf(CONTRIBUTION_STATUSES))
    note = Text(TEXT_MAX, load_default=None, allow_none=True)


class Reward(Schema):
    description = Text(REASON_MAX, required=True)


class Conversion(Schema):
    customer_id = fields.UUID(required=True, metadata={"description": "The customer the referral became"})


class StatusRecord(Recorded):
    status = fields.String()
    previous = fields.String()
    note = fields.String(allow_none=True)


class EndorsementRecord(Schema):
    customer_id = fields.UUID()
    occurred_at = fields.AwareDateTime()


class RewardRecord(Recorded):
    description = fields.String()


class Contribution(Schema):
    id = fields.UUID()
    version = fields.Integer()
    customer_id = fields.UUID()
    kind = fields.String(metadata={"enum": list(CONTRIBUTION_KINDS)})
    title = fields.String()
    body = fields.String()
    rating = fields.Integer(allow_none=True)
    referred_handle = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": list(CONTRIBUTION_STATUSES)})
    status_history = fields.List(fields.Nested(StatusRecord))
    endorsement_count = fields.Method("count_endorsements", metadata={"type": "integer"})
    endorsements = fields.List(fields.Nested(EndorsementRecord))
    rewards = fields.List(fields.Nested(RewardRecord))
    converted_customer_id = fields.UUID(allow_none=True)
    submitted_at = fields.AwareDateTime()

    def count_endorsements(self, contribution: Any) -> int:
        return len(contribution.endorsements)
