"""Rate limits: one budget per agent across the whole API, 429 beyond it.

Flask-Limiter counts (in this process's memory, or in Redis to share one count between processes)
and refuses; this module says whom it counts (the agent behind the bearer token, else the remote
address), what is exempt (everything outside /v1: health checks and documentation) and which
headers tell the client where it stands. The 429 itself is a problem document from service.errors.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from apispec import APISpec, BasePlugin
from eventsourcing.persistence import OperationalError as StoreUnavailableError
from flask import Flask, Response, request
from flask_limiter import Limiter
from limits.errors import StorageError

from domain.errors import AuthenticationError
from service.auth import authenticated_agent
from service.errors import PROBLEM_CONTENT_TYPE, MissingCredentialsError, ProblemSchema
from service.settings import Settings

LIMIT_HEADER = "RateLimit-Limit"
REMAINING_HEADER = "RateLimit-Remaining"
RESET_HEADER = "RateLimit-Reset"
RETRY_AFTER_HEADER = "Retry-After"
RATE_LIMIT_HEADERS = (LIMIT_HEADER, REMAINING_HEADER, RESET_HEADER)
LIMITED_PREFIX = "/v1/"
ENVIRON_KEY = "conversa.rate_limit_key"

logger = logging.getLogger(__name__)


def is_limited(path: str) -> bool:
    """Only the API is limited: health checks, readiness and the documentation never are."""
    return path.startswith(LIMITED_PREFIX)


def agent_or_address() -> str:
    """Whom a request counts against: the agent behind its bearer token, or its remote address.

    Never the token itself (a new token for the same agent shares the budget), and never the agent
    of a token that does not authenticate: a stranger's bad tokens cannot use up an agent's budget.
    """
    # Asked once per configured limit. Kept in the WSGI environ, which lives exactly as long as the
    # request (g lives as long as the app context, which a test may keep across requests).
    key: str | None = request.environ.get(ENVIRON_KEY)
    if key is None:
        try:
            key = f"agent:{authenticated_agent().id}"
        except (MissingCredentialsError, AuthenticationError, StoreUnavailableError):
            # The view answers 401 (or 503) itself; until then, the caller is where it comes from.
            key = f"address:{request.remote_addr or 'unknown'}"
        request.environ[ENVIRON_KEY] = key
    return key


def add_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """Limit every request under /v1 to settings.rate_limit per agent; register before the other hooks
    that do work on a request (idempotency), so that a refused request does none."""
    limiter = Limiter(
        agent_or_address,
        app=app,
        application_limits=[settings.rate_limit],  # one budget across all routes, not one per route
        storage_uri=settings.rate_limit_storage_uri,
        storage_options={"wrap_exceptions": True},  # a storage failure is a StorageError, whatever the backend
        strategy="fixed-window",  # exact RateLimit-Reset; a burst at a window's edge stays within 2× the limit
        # Flask-Limiter would send the reset as a point in time; the RateLimit headers draft wants the
        # seconds until it, so this module writes the headers itself.
        headers_enabled=False,
        # Redis unreachable: count in this process's memory until it answers again, rather than fail
        # every request or stop limiting (Flask-Limiter logs the switch and retries with back-off).
        in_memory_fallback_enabled=True,
    )

    @limiter.request_filter
    def exempt() -> bool:
        # A preflight carries no token and does no work; counting it by address would charge
        # a whole office behind one address for its browsers' housekeeping.
        return request.method == "OPTIONS" or not is_limited(request.path)

    @app.after_request
    def tell_where_the_client_stands(response: Response) -> Response:
        limit = limiter.current_limit
        if limit is None:  # exempt, or no route matched
            return response
        try:
            reset_time, remaining = limit.window
        except StorageError:
            logger.warning("rate limit storage unreachable: answer sent without RateLimit headers", exc_info=True)
            return response
        seconds_to_reset = max(0, math.ceil(reset_time - time.time()))
        response.headers[LIMIT_HEADER] = str(limit.limit.amount)
        response.headers[REMAINING_HEADER] = str(remaining)
        response.headers[RESET_HEADER] = str(seconds_to_reset)
        if limit.breached:
            response.headers[RETRY_AFTER_HEADER] = str(max(1, seconds_to_reset))
        return response

    return limiter


HEADER_DOCS: dict[str, dict[str, Any]] = {
    LIMIT_HEADER: {
        "description": "Requests allowed per window to this agent (to this address without a valid token)",
        "schema": {"type": "integer", "minimum": 1},
    },
    REMAINING_HEADER: {
        "description": "Requests left in the current window",
        "schema": {"type": "integer", "minimum": 0},
    },
    RESET_HEADER: {
        "description": "Seconds until the window ends and the budget is whole again",
        "schema": {"type": "integer", "minimum": 0},
    },
    RETRY_AFTER_HEADER: {
        "description": "Seconds to wait before sending again",
        "schema": {"type": "integer", "minimum": 1},
    },
}
RATE_LIMITED_RESPONSE = "RATE_LIMITED"


class RateLimitDocs(BasePlugin):
    """Documents the RateLimit headers and the 429 answer on every limited operation."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        for name, doc in HEADER_DOCS.items():
            spec.components.header(name, doc, lazy=True)
        spec.components.response(
            RATE_LIMITED_RESPONSE,
            {
                "description": "Too many requests from this agent (from this address without a valid token): "
                "a problem document of type urn:conversa:problem:rate-limited; send again after Retry-After "
                "seconds",
                "headers": {name: name for name in (RETRY_AFTER_HEADER, *RATE_LIMIT_HEADERS)},
                "content": {PROBLEM_CONTENT_TYPE: {"schema": ProblemSchema}},
            },
            lazy=True,
        )

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if path is None or not is_limited(path):
            return
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if str(status).startswith("2") and isinstance(response, dict):
                    headers = response.setdefault("headers", {})
                    headers.update({name: name for name in RATE_LIMIT_HEADERS})  # apispec makes them references
            responses.setdefault("429", RATE_LIMITED_RESPONSE)
