"""The Flask app factory."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version
from typing import Any

from flask import Flask

from service import idempotency
from service.api import agents, contributions, conversations, customers, events, ingest, operations, views, webhooks
from service.cors import allow_cross_origin
from service.errors import ConversaApi
from service.headers import add_security_headers
from service.rate_limits import RateLimitDocs, add_rate_limits
from service.runtime import ApplicationHolder
from service.schemas.common import SchemaRulesDocs
from service.settings import Settings

API_DESCRIPTION = (
    "Conversa records customer conversations, prosumer contributions and support interactions as "
    "immutable events. Authenticate with `Authorization: Bearer <token>`. Errors are RFC 9457 problem "
    "documents. Writes answer with the aggregate's version as `ETag` (send it back in `If-Match` to "
    "refuse stale changes with 412) and the log position of their last event in `Conversa-Position`. "
    "Limits: texts up to 10,000 characters, names 200, tags 50, request bodies 1 MiB."
)


def create_app(test_config: Mapping[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """Build the WSGI app; the event store opens on the first request, in the serving process."""
    settings = settings or Settings.from_env()
    app = Flask("conversa")
    app.json.sort_keys = False  # type: ignore[attr-defined]  # answers keep the schemas' field order
    app.config.update(
        API_TITLE="Conversa",
        API_VERSION=version("conversa"),
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    if test_config:
        app.config.update(test_config)
    holder = ApplicationHolder(settings)
    app.extensions["conversa"] = holder
    api = ConversaApi(
        app, spec_kwargs={"extra_plugins": [idempotency.IdempotencyKeyDocs(), RateLimitDocs(), SchemaRulesDocs()]}
    )
    add_rate_limits(app, settings)  # first: a refused request does no other work
    idempotency.install(app)
    for module in (customers, conversations, contributions, views, ingest, events, webhooks, agents, operations):
        api.register_blueprint(module.blp)
    allow_cross_origin(app, settings.cors_origins)
    add_security_headers(app)
    return app


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of the app, as served at /openapi.json."""
    api: ConversaApi = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    with app.app_context():
        document: dict[str, Any] = api.spec.to_dict()
    return document
