"""The right-of-access document: everything Conversa stores about one customer."""

from __future__ import annotations

from marshmallow import Schema, fields

from service.schemas.contributions import Contribution
from service.schemas.conversations import Conversation
from service.schemas.customers import Customer
from service.schemas.views import Advocacy, Happiness


class Scores(Schema):
    happiness = fields.Nested(Happiness)
    advocacy = fields.Nested(Advocacy)


class CustomerExport(Schema):
    exported_at = fields.AwareDateTime()
    customer = fields.Nested(
        Customer, metadata={"description": "Profile, identities, tags, consent history with who and when, NPS"}
    )
    merged_duplicates = fields.List(
        fields.Nested(Customer), metadata={"description": "Records merged into this customer, however deep"}
    )
    conversations = fields.List(
        fields.Nested(Conversation),
        metadata={"description": "Every conversation of the customer and their duplicates, with messages and notes"},
    )
    contributions = fields.List(fields.Nested(Contribution))
    scores = fields.Nested(
        Scores, allow_none=True, metadata={"description": "Happiness and advocacy; null until the views include them"}
    )
