"""Webhooks: subscriptions that receive integration events, signed, and their delivery log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from flask import url_for
from flask.views import MethodView

from domain.errors import RuleViolationError
from service.auth import current_agent, requires
from service.http import LOCATION_DOC, Blueprint
from service.pagination import encode_cursor
from service.runtime import application, webhooks
from service.schemas import webhooks as s

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/v1/webhooks",
    description="Signed deliveries of integration events to your URL (see docs/integration.md)",
)


@blp.route("")
class Webhooks(MethodView):
    @requires("webhooks:manage")
    @blp.arguments(s.WebhookCreate)
    @blp.response(201, s.Webhook, headers=LOCATION_DOC)
    def post(self, data: dict[str, Any]) -> Any:
        """Subscribe a URL to event types, from now on; the secret is never shown again."""
        subscription = webhooks().create(
            data["url"],
            data["event_types"],
            data["secret"],
            position=application().head_position,
            created_by=str(current_agent().id),
            now=datetime.now(UTC),
        )
        return subscription, 201, {"Location": url_for("webhooks.WebhookResource", webhook_id=subscription.id)}

    @requires("webhooks:manage")
    @blp.arguments(s.WebhookListArgs, location="query")
    @blp.response(200, s.WebhookList)
    def get(self, args: dict[str, Any]) -> Any:
        """Every subscription, oldest first."""
        items, after = webhooks().subscriptions(args["limit"], args["cursor"])
        return {"items": items, "next_cursor": encode_cursor(after) if after else None}


@blp.route("/<uuid:webhook_id>")
class WebhookResource(MethodView):
    @requires("webhooks:manage")
    @blp.response(200, s.Webhook)
    def get(self, webhook_id: UUID) -> Any:
        """One subscription (with a hint of its secret, never the secret)."""
        return webhooks().get(str(webhook_id))

    @requires("webhooks:manage")
    @blp.response(204)
    def delete(self, webhook_id: UUID) -> Any:
        """Stop deliveries and forget the subscription, its secret and its delivery log."""
        webhooks().delete(str(webhook_id))


@blp.route("/<uuid:webhook_id>/deliveries")
class Deliveries(MethodView):
    @requires("webhooks:manage")
    @blp.arguments(s.DeliveryListArgs, location="query")
    @blp.response(200, s.DeliveryList)
    def get(self, args: dict[str, Any], webhook_id: UUID) -> Any:
        """The delivery log, newest first: event, attempts, last status code or error, next retry."""
        before = args["cursor"][0] if args["cursor"] else None
        items, last = webhooks().deliveries(str(webhook_id), args["limit"], before, args["status"])
        return {"items": items, "next_cursor": encode_cursor([last]) if last is not None else None}


@blp.route("/<uuid:webhook_id>/replay")
class Replay(MethodView):
    @requires("webhooks:manage")
    @blp.arguments(s.ReplayArgs, location="query")
    @blp.response(202, s.Webhook)
    def post(self, args: dict[str, Any], webhook_id: UUID) -> Any:
        """Send every event of the subscription's types again from this id on, in order; resumes a paused one."""
        head = application().head_position
        if args["from_"] > head + 1:
            raise RuleViolationError(f"the event log ends at {head}: replay from {head + 1} at most")
        return webhooks().replay(str(webhook_id), args["from_"], datetime.now(UTC))
