"""Agents: the people and systems allowed to use the API (admin only)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import url_for
from flask.views import MethodView

from service.auth import current_actor, requires
from service.http import Blueprint, answer, changes, expected_version, read
from service.pagination import microseconds, page, page_args
from service.runtime import application
from service.schemas import agents as s

blp = Blueprint("agents", __name__, url_prefix="/v1/agents", description="API users and their tokens")


def _roster_key(agent: Any) -> list[Any]:
    return [microseconds(agent.created_on), str(agent.id)]


def _with_token(agent: Any, token: str) -> dict[str, Any]:
    """The agent's attributes and its new token, for AgentWithToken to serialise (once: a dumped
    dict would be dumped again by @blp.response, and a dumped datetime is no longer a datetime)."""
    return {**{name: getattr(agent, name) for name in s.Agent().fields}, "token": token}


@blp.route("")
class Agents(MethodView):
    @requires("agents:manage")
    @blp.arguments(s.AgentCreate)
    @changes(blp, s.AgentWithToken, status=201, creates=True)
    def post(self, data: dict[str, Any]) -> Any:
        """Create an agent; the answer holds its token, shown only this once."""
        written, token = application().register_agent(data["name"], data["role"])
        _, status, headers = answer(written, 201, url_for("agents.AgentResource", agent_id=written.aggregate.id))
        return _with_token(written.aggregate, token), status, headers

    @requires("agents:manage")
    @blp.arguments(page_args((int, str), "AgentListArgs"), location="query")
    @blp.response(200, s.AgentList)
    def get(self, args: dict[str, Any]) -> Any:
        """Every agent, active or not, oldest first."""
        return page(application().list_agents(), _roster_key, args["limit"], args["cursor"])


@blp.route("/<uuid:agent_id>")
class AgentResource(MethodView):
    @requires("agents:manage")
    @blp.response(200, s.Agent)
    def get(self, agent_id: UUID) -> Any:
        """One agent."""
        return read(application().get_agent(agent_id))

    @requires("agents:manage")
    @changes(blp, s.Agent)
    def delete(self, agent_id: UUID) -> Any:
        """Revoke an agent: its token stops working; its name stays on what it did."""
        return answer(application().deactivate_agent(agent_id, current_actor(), expected_version()))


@blp.route("/<uuid:agent_id>/token")
class Token(MethodView):
    @requires("agents:manage")
    @changes(blp, s.AgentWithToken, status=201)
    def post(self, agent_id: UUID) -> Any:
        """Issue a new token for the agent; the old one stops working at once."""
        written, token = application().rotate_agent_token(agent_id, expected_version())
        _, status, headers = answer(written, 201, url_for("agents.AgentResource", agent_id=agent_id))
        return _with_token(written.aggregate, token), status, headers
