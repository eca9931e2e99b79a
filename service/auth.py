"""Bearer-token authentication and the one table of which role may do what."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from domain.actor import Actor
from domain.agent import Agent, Role
from service.errors import MissingCredentialsError, PermissionDeniedError
from service.runtime import application

F = TypeVar("F", bound=Callable[..., Any])

AGENT_ENVIRON_KEY = "conversa.agent"

# DESIGN.md: admin does everything; agents do support work; marketing reads customers,
# contributions and KPIs and curates contributions; integrations use ingest, feed and webhooks.
PERMISSIONS: dict[str, tuple[Role, ...]] = {
    "customers:read": ("admin", "agent", "marketing"),
    "customers:write": ("admin", "agent"),
    "customers:forget": ("admin",),
    "customers:export": ("admin",),
    "conversations:read": ("admin", "agent"),
    "conversations:write": ("admin", "agent"),
    "contributions:read": ("admin", "agent", "marketing"),
    "contributions:write": ("admin", "agent"),
    "contributions:curate": ("admin", "agent", "marketing"),
    "agents:manage": ("admin",),
    "ingest:write": ("admin", "integration"),
    "events:read": ("admin", "integration"),
    "webhooks:manage": ("admin", "integration"),
}


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingCredentialsError("send Authorization: Bearer <token>")
    return token.strip()


def authenticated_agent() -> Agent:
    """The active agent behind the request's bearer token, looked up once per request.

    Rate limiting, idempotency and the permission check all need it. It is kept in the WSGI
    environ, which lives exactly as long as the request (g may outlive one in tests).
    """
    agent: Agent | None = request.environ.get(AGENT_ENVIRON_KEY)
    if agent is None:
        agent = application().authenticate(_bearer_token())
        request.environ[AGENT_ENVIRON_KEY] = agent
    return agent


def requires(permission: str) -> Callable[[F], F]:
    """Let the view run only for an authenticated agent whose role holds the permission.

    Put it above ``@blp.arguments`` so that credentials are checked before the body is.
    """
    roles = PERMISSIONS[permission]

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            agent = authenticated_agent()
            if agent.role not in roles:
                raise PermissionDeniedError(f"the {agent.role} role may not do this ({permission})")
            g.agent = agent
            return view(*args, **kwargs)

        # flask-smorest keeps an operation's documentation in _apidoc; say who may call it.
        doc = guarded.__dict__.setdefault("_apidoc", {}).setdefault("manual_doc", {})
        doc["x-roles"] = list(roles)
        return guarded  # type: ignore[return-value]

    return decorate


def current_agent() -> Agent:
    agent: Agent = g.agent
    return agent


def current_actor() -> Actor:
    agent = current_agent()
    return Actor(kind="agent", id=agent.id, name=agent.name)
