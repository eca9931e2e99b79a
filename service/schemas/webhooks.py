"""Webhook subscriptions and their delivery log: requests and answers."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate

from projections.integration_events import TYPES
from service.pagination import page_args
from service.schemas.common import Pattern, page_of
from service.webhooks import DELIVERY_STATUSES

URL_MAX = 2000
SECRET_MIN, SECRET_MAX = 32, 256


# The receiver's URL: http or https, a host name or an IP address, an optional port, then a path
# and query of visible ASCII (percent-encode the rest). No user name or password (they would show
# wherever the URL does: authenticate with the signature) and no #fragment. The contract states the
# same pattern, so every URL it allows is accepted.
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_PATH_AND_QUERY = '(?:[/?][!"$-~]*)?'  # visible ASCII but #
URL_PATTERN = rf"^https?://(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::{_PORT})?{_PATH_AND_QUERY}$"
_URL = re.compile(URL_PATTERN)


def _receiver_url(url: str) -> None:
    if _URL.fullmatch(url) is None:  # fullmatch: Python's $ would let a final line break through
        raise ValidationError(
            "must be an http or https URL without a user name, password or #fragment, "
            "in visible ASCII (percent-encode the rest)"
        )


def _distinct(values: list[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("lists a type twice")


class WebhookCreate(Schema):
    url = fields.String(
        required=True,
        validate=[validate.Length(max=URL_MAX), _receiver_url],
        metadata={
            "description": "Where to POST each event (http or https)",
            "maxLength": URL_MAX,
            "pattern": URL_PATTERN,
        },
    )
    event_types = fields.List(
        fields.String(validate=validate.OneOf(TYPES)),
        required=True,
        validate=[validate.Length(min=1), _distinct],
        metadata={"description": "The integration event types to send; see GET /v1/events", "uniqueItems": True},
    )
    secret = fields.String(
        required=True,
        load_only=True,
        validate=Pattern(
            rf"^[\x21-\x7e]{{{SECRET_MIN},{SECRET_MAX}}}$",
            error=f"must be {SECRET_MIN} to {SECRET_MAX} visible ASCII characters (no spaces)",
        ),
        metadata={
            "description": "Signs every delivery (HMAC-SHA256); never shown again, only a hint of it",
            "minLength": SECRET_MIN,
            "maxLength": SECRET_MAX,
        },
    )


class Webhook(Schema):
    id = fields.UUID()
    url = fields.String()
    event_types = fields.List(fields.String(validate=validate.OneOf(TYPES)))
    secret_hint = fields.String(metadata={"description": "The secret's last characters; the secret is never shown"})
    status = fields.String(
        metadata={"enum": ["active", "paused"], "description": "paused: a delivery failed for 24 h; replay to resume"}
    )
    paused_reason = fields.String(allow_none=True)
    position = fields.Integer(metadata={"description": "The last event id this subscription has handled"})
    created_at = fields.AwareDateTime()
    created_by = fields.UUID(allow_none=True, metadata={"description": "The agent who created it"})


class Delivery(Schema):
    id = fields.Integer(attribute="seq", metadata={"description": "Number of the delivery in this subscription"})
    event_id = fields.Integer()
    event_type = fields.String()
    status = fields.String(
        metadata={
            "enum": list(DELIVERY_STATUSES),
            "description": "pending (retrying at next_attempt_at), delivered, failed (gave up after 24 h), "
            "cancelled (a replay moved the subscription elsewhere)",
        }
    )
    attempts = fields.Integer()
    status_code = fields.Integer(allow_none=True, metadata={"description": "Of the last attempt's answer"})
    error = fields.String(allow_none=True, metadata={"description": "Why the last attempt got no answer"})
    created_at = fields.AwareDateTime()
    first_attempt_at = fields.AwareDateTime(allow_none=True)
    last_attempt_at = fields.AwareDateTime(allow_none=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)


WebhookList = page_of(Webhook, "WebhookList")
DeliveryList = page_of(Delivery, "DeliveryList")
WebhookListArgs = page_args((str, str), "WebhookListArgs")
DeliveryListArgs = page_args(
    (int,),
    "DeliveryListArgs",
    status=fields.String(load_default=None, validate=validate.OneOf(DELIVERY_STATUSES)),
)


class ReplayArgs(Schema):
    from_ = fields.Integer(
        data_key="from",
        required=True,
        validate=validate.Range(min=1),
        metadata={"description": "The first event id to send again (everything after it follows, in order)"},
    )
