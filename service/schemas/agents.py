"""Agent requests and answers."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.agent import ROLES
from service.schemas.common import NAME_MAX, Text, page_of


class AgentCreate(Schema):
    name = Text(NAME_MAX, required=True, metadata={"description": "Signs the agent's replies"})
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class Agent(Schema):
    id = fields.UUID()
    version = fields.Integer()
    name = fields.String()
    role = fields.String(metadata={"enum": list(ROLES)})
    active = fields.Boolean()
    registered_at = fields.AwareDateTime()


class AgentWithToken(Agent):
    token = fields.String(metadata={"description": "The bearer token: shown this once, store it safely"})


AgentList = page_of(Agent, "AgentList")
