"""Query arguments and answers of the read models (lists, profile, scores, KPIs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain.classification import KINDS, PRIORITIES
from domain.contribution import CONTRIBUTION_KINDS, CONTRIBUTION_STATUSES
from service.consistency import MIN_POSITION_FIELD
from service.pagination import Cursor, limit_field, page_args
from service.schemas.common import CHANNEL, NAME_MAX, TAG_MAX, page_of
from service.schemas.customers import Identity

KPI_MAX_DAYS = 366
KPI_DEFAULT_DAYS = 30

CustomerListArgs = page_args(
    (str, str),
    "CustomerListArgs",
    q=fields.String(
        validate=validate.Length(min=1, max=NAME_MAX),
        metadata={"description": "Part of a name, handle or e-mail, any case"},
    ),
    tag=fields.String(validate=validate.Length(min=1, max=TAG_MAX)),
    include_inactive=fields.Boolean(load_default=False, metadata={"description": "Also merged and forgotten"}),
    min_position=MIN_POSITION_FIELD,
)

InboxArgs = page_args(
    (str, str),
    "InboxArgs",
    status=fields.String(validate=validate.OneOf(["open", "pending", "resolved"])),
    assignee=fields.UUID(metadata={"description": "Agent id"}),
    channel=fields.String(validate=CHANNEL),
    kind=fields.String(validate=validate.OneOf(KINDS)),
    priority=fields.String(validate=validate.OneOf(PRIORITIES)),
    customer_id=fields.UUID(),
    min_position=MIN_POSITION_FIELD,
)

ComplaintArgs = page_args(
    (str, str),
    "ComplaintArgs",
    assignee=fields.UUID(metadata={"description": "Agent id"}),
    breached=fields.Boolean(metadata={"description": "Only those past a target (true) or within all (false)"}),
    min_position=MIN_POSITION_FIELD,
)

AdvocateArgs = page_args(
    (int, str),
    "AdvocateArgs",
    min_score=fields.Integer(validate=validate.Range(0, 100)),
    channel=fields.String(validate=CHANNEL),
    format=fields.String(
        validate=validate.OneOf(["json", "csv"]),
        metadata={"description": "csv: all rows, as a file (same as Accept: text/csv)"},
    ),
    min_position=MIN_POSITION_FIELD,
)


class ContributionBoardArgs(Schema):
    kind = fields.String(validate=validate.OneOf(CONTRIBUTION_KINDS))
    status = fields.String(validate=validate.OneOf(CONTRIBUTION_STATUSES))
    sort = fields.String(
        load_default="top",
        validate=validate.OneOf(["top", "new"]),
        metadata={"description": "top: most endorsed first; new: newest first"},
    )
    limit = limit_field()
    cursor = Cursor((str, (int, str), str), load_default=None, metadata={"description": "next_cursor of the last page"})
    min_position = MIN_POSITION_FIELD

    @validates_schema
    def check_cursor_matches_sort(self, data: dict[str, Any], **kwargs: Any) -> None:
        cursor = data.get("cursor")
        if cursor is not None and (
            cursor[0] != data["sort"] or type(cursor[1]) is not (int if cursor[0] == "top" else str)
        ):
            raise ValidationError("this cursor belongs to another sort order", "cursor")


class KpiArgs(Schema):
    from_ = fields.Date(
        data_key="from", metadata={"description": f"First day (UTC); default {KPI_DEFAULT_DAYS} days before to"}
    )
    to = fields.Date(metadata={"description": "Last day (UTC), included; default today"})
    interval = fields.String(load_default="day", validate=validate.OneOf(["day"]))
    min_position = MIN_POSITION_FIELD

    @validates_schema
    def check_range(self, data: dict[str, Any], **kwargs: Any) -> None:
        last = data.get("to") or datetime.now(UTC).date()
        first = data.get("from_") or last - timedelta(days=KPI_DEFAULT_DAYS - 1)
        if first > last:
            raise ValidationError("from must not be after to", "from")
        if (last - first).days >= KPI_MAX_DAYS:
            raise ValidationError(f"a range covers at most {KPI_MAX_DAYS} days", "from")
        data["from_"], data["to"] = first, last


class ReadArgs(Schema):
    min_position = MIN_POSITION_FIELD


# ---- answers ------------------------------------------------------------------------------------


class Happiness(Schema):
    score = fields.Integer(allow_none=True, metadata={"description": "0–100, null without any signal"})
    band = fields.String(
        allow_none=True, metadata={"enum": ["delighted", "happy", "neutral", "unhappy", "at_risk", None]}
    )
    components = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        metadata={"description": "sentiment, csat, nps, service: each 0–100 or null"},
    )


class Advocacy(Schema):
    score = fields.Integer()
    reasons = fields.List(fields.String())
    is_advocate = fields.Boolean()


class CustomerRow(Schema):
    id = fields.String()
    name = fields.String()
    identities = fields.List(fields.Nested(Identity))
    tags = fields.List(fields.String())
    marketing_consent = fields.Boolean()
    happiness = fields.Integer(allow_none=True)
    advocacy = fields.Integer()
    last_contact_at = fields.String(allow_none=True)
    forgotten = fields.Boolean()
    merged_into = fields.String(allow_none=True)


CustomerList = page_of(CustomerRow, "CustomerList")


class ConversationCounts(Schema):
    open = fields.Integer()
    pending = fields.Integer()
    resolved = fields.Integer()


class ProfileConsentRecord(Schema):
    given = fields.Boolean()
    source = fields.String(allow_none=True)
    occurred_at = fields.String()
    actor = fields.Dict()


class Profile(Schema):
    customer_id = fields.String()
    name = fields.String()
    email = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    identities = fields.List(fields.Nested(Identity))
    tags = fields.List(fields.String())
    marketing_consent = fields.Boolean()
    consent_history = fields.List(fields.Nested(ProfileConsentRecord))
    forgotten = fields.Boolean()
    merged_into = fields.String(allow_none=True)
    merged_duplicates = fields.List(fields.String())
    registered_at = fields.String()
    conversations = fields.Nested(ConversationCounts)
    open_complaints = fields.Integer()
    contributions = fields.Integer()
    last_contact_at = fields.String(allow_none=True)
    latest_nps = fields.Integer(allow_none=True)
    mean_csat = fields.Float(allow_none=True)
    happiness = fields.Nested(Happiness)
    advocacy = fields.Nested(Advocacy)


class CustomerHappiness(Happiness):
    customer_id = fields.String()


class LastMessage(Schema):
    excerpt = fields.String()
    direction = fields.String(metadata={"enum": ["inbound", "outbound"]})
    sentiment = fields.Float(allow_none=True)
    occurred_at = fields.String()


class AssigneeRow(Schema):
    id = fields.String()
    name = fields.String()


class InboxRow(Schema):
    id = fields.String()
    customer_id = fields.String()
    customer_name = fields.String(allow_none=True)
    channel = fields.String()
    subject = fields.String(allow_none=True)
    status = fields.String()
    kind = fields.String(allow_none=True)
    priority = fields.String()
    assignee = fields.Nested(AssigneeRow, allow_none=True)
    escalated = fields.Boolean()
    last_activity_at = fields.String()
    last_message = fields.Nested(LastMessage, allow_none=True)
    first_response_due_at = fields.String(allow_none=True)
    first_response_breached = fields.Boolean()


Inbox = page_of(InboxRow, "Inbox")


class ComplaintRow(Schema):
    conversation_id = fields.String()
    customer_id = fields.String()
    customer_name = fields.String(allow_none=True)
    status = fields.String()
    priority = fields.String()
    assignee = fields.Nested(AssigneeRow, allow_none=True)
    escalated = fields.Boolean()
    opened_at = fields.String()
    age_seconds = fields.Float()
    first_response_due_at = fields.String(allow_none=True)
    first_response_breached = fields.Boolean()
    resolution_due_at = fields.String(allow_none=True)
    resolution_breached = fields.Boolean()
    breached = fields.Boolean()
    last_message_excerpt = fields.String(allow_none=True)
    sentiment = fields.Float(allow_none=True)


Complaints = page_of(ComplaintRow, "Complaints")


class AdvocateRow(Schema):
    customer_id = fields.String()
    name = fields.String()
    advocacy = fields.Integer()
    reasons = fields.List(fields.String())
    happiness = fields.Integer(allow_none=True)
    channels = fields.List(fields.String())
    marketing_consent = fields.Boolean()


Advocates = page_of(AdvocateRow, "Advocates")


class ContributionRow(Schema):
    id = fields.String()
    customer_id = fields.String()
    customer_name = fields.String(allow_none=True)
    kind = fields.String()
    title = fields.String()
    status = fields.String()
    rating = fields.Integer(allow_none=True)
    endorsements = fields.Integer()
    rewards = fields.Integer()
    converted = fields.Boolean()
    submitted_at = fields.String()


ContributionBoard = page_of(ContributionRow, "ContributionBoard")


class KpiFigures(Schema):
    inbound_volume = fields.Integer()
    negative_share = fields.Float(
        allow_none=True, metadata={"description": "Share of inbound messages with compound ≤ −0.35"}
    )
    nps = fields.Float(allow_none=True, metadata={"description": "% promoters − % detractors"})
    nps_responses = fields.Integer()
    csat = fields.Float(allow_none=True, metadata={"description": "% of ratings 4–5"})
    csat_responses = fields.Integer()
    median_first_response_seconds = fields.Float(allow_none=True)
    median_resolution_seconds = fields.Float(allow_none=True)
    mean_happiness = fields.Float(allow_none=True)


class KpiTotal(KpiFigures):
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()


class KpiDay(KpiFigures):
    date = fields.String()


class Kpis(Schema):
    total = fields.Nested(KpiTotal)
    series = fields.List(fields.Nested(KpiDay))


class ViewPosition(Schema):
    position = fields.Integer()


class Readiness(Schema):
    status = fields.String(metadata={"enum": ["ready"]})
    head = fields.Integer(metadata={"description": "Position of the newest event in the store"})
    views = fields.Dict(keys=fields.String(), values=fields.Nested(ViewPosition))
    lag = fields.Integer(metadata={"description": "Events the views have still to apply"})
