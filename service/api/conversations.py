"""Conversations: start, messages in, replies out, triage and resolution."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from flask import url_for
from flask.views import MethodView

from domain.application import InboundMessage
from service.api.views import listing
from service.auth import current_actor, requires
from service.consistency import await_views
from service.http import Blueprint, answer, changes, expected_version, read
from service.runtime import application, views
from service.schemas import conversations as s
from service.schemas import views as v

blp = Blueprint("conversations", __name__, url_prefix="/v1/conversations", description="Conversations with customers")


def _location(conversation_id: UUID) -> str:
    return url_for("conversations.Conversation", conversation_id=conversation_id)


@blp.route("")
class Conversations(MethodView):
    @requires("conversations:read")
    @blp.arguments(v.InboxArgs, location="query")
    @blp.response(200, v.Inbox)
    def get(self, args: dict[str, Any]) -> Any:
        """The inbox: newest activity first, filtered by status, assignee, channel, kind, priority, customer."""
        await_views(args.pop("min_position", None))
        limit, cursor = args.pop("limit"), args.pop("cursor")
        return listing(views().inbox(args, datetime.now(UTC), limit, cursor))

    @requires("conversations:write")
    @blp.arguments(s.ConversationStart)
    @changes(blp, s.Conversation, status=201, creates=True)
    def post(self, data: dict[str, Any]) -> Any:
        """Start a conversation with a customer, optionally with its first inbound message."""
        first = data.pop("message", None)  # always loaded (default None): never pass it twice
        message = InboundMessage(**first) if first else None
        written = application().start_conversation(**data, message=message, actor=current_actor())
        return answer(written, 201, _location(written.aggregate.id))


@blp.route("/<uuid:conversation_id>")
class Conversation(MethodView):
    @requires("conversations:read")
    @blp.response(200, s.Conversation)
    def get(self, conversation_id: UUID) -> Any:
        """One conversation with its messages and notes, read from its own history."""
        return read(application().get_conversation(conversation_id))


@blp.route("/<uuid:conversation_id>/messages")
class Messages(MethodView):
    @requires("conversations:write")
    @blp.arguments(s.InboundMessage)
    @changes(blp, s.Conversation, status=201)
    def post(self, data: dict[str, Any], conversation_id: UUID) -> Any:
        """Record an inbound message from the customer; it reopens a resolved conversation."""
        written = application().receive_message(conversation_id, InboundMessage(**data), expected_version())
        return answer(written, 201, _location(conversation_id))


@blp.route("/<uuid:conversation_id>/replies")
class Replies(MethodView):
    @requires("conversations:write")
    @blp.arguments(s.Reply)
    @changes(blp, s.Conversation, status=201)
    def post(self, data: dict[str, Any], conversation_id: UUID) -> Any:
        """Reply to the customer, signed by the authenticated agent."""
        written = application().send_reply(
            conversation_id, actor=current_actor(), expected_version=expected_version(), **data
        )
        return answer(written, 201, _location(conversation_id))


@blp.route("/<uuid:conversation_id>/notes")
class Notes(MethodView):
    @requires("conversations:write")
    @blp.arguments(s.Note)
    @changes(blp, s.Conversation, status=201)
    def post(self, data: dict[str, Any], conversation_id: UUID) -> Any:
        """Add an internal note, signed by the authenticated agent."""
        written = application().add_note(conversation_id, data["text"], current_actor(), expected_version())
        return answer(written, 201, _location(conversation_id))


@blp.route("/<uuid:conversation_id>/assignee")
class Assignee(MethodView):
    @requires("conversations:write")
    @blp.arguments(s.AssigneeChange)
    @changes(blp, s.Conversation)
    def put(self, data: dict[str, Any], conversation_id: UUID) -> Any:
        """Assign the conversation to a support agent, or unassign it with null."""
        return answer(
            application().assign_conversation(conversation_id, data["agent_id"], current_actor(), expected_version())
        )


@blp.route("/<uuid:conversation_id>/classification")
class Classification(MethodView):
    @requires("conversations:write")
    @blp.arguments(s.ClassificationChange)
    @changes(blp, s.Conversation)
    def put(self, data: dict[str, Any], conversation_id: UUID) -> Any:
        """Classify by hand; automatic classification never overrides it."""
        return answer(
            application().classify_conversation(conversation_id, data["kind"], current_actor(), expected_version())
        )


@blp.route("/<uuid:conversation_id>/priority")
class Priority(MethodView):
    @requires("conversations:write")
    @blp.arguments(s.PriorityChange)
    @changes(blp, s.Conversation)
    def put(self, data: dict[str, Any], conversation_id: UUID) -> Any:
        """Set the priority by hand."""
        return answer(
            application().change_priority(conversation_id, data["priority"], current_actor(), expected_version())
        )


@blp.route("/<uuid:conversation_id>/escalate")
class Escalate(MethodView):
    @requires("conversations:write")
    @blp.arguments(s.Escalation)
    @changes(blp, s.Conversation)
    def post(self, data: dict[str, Any], conversation_id: UUID) -> Any:
        """Escalate, with the reason."""
        return answer(
            application().escalate_conversation(conversation_id, data["reason"], current_actor(), expected_version())
        )


@blp.route("/<uuid:conversation_id>/resolve")
class Resolve(MethodView):
    @requires("conversations:write")
    @changes(blp, s.Conversation)
    def post(self, conversation_id: UUID) -> Any:
        """Mark the conversation resolved."""
        return answer(application().resolve_conversation(conversation_id, current_actor(), expected_version()))


@blp.route("/<uuid:conversation_id>/reopen")
class Reopen(MethodView):
    @requires("conversations:write")
    @changes(blp, s.Conversation)
    def post(self, conversation_id: UUID) -> Any:
        """Reopen a resolved conversation."""
        return answer(application().reopen_conversation(conversation_id, current_actor(), expected_version()))


@blp.route("/<uuid:conversation_id>/csat")
class Csat(MethodView):
    @requires("conversations:write")
    @blp.arguments(s.SatisfactionRating)
    @changes(blp, s.Conversation, status=201)
    def post(self, data: dict[str, Any], conversation_id: UUID) -> Any:
        """Record the customer's satisfaction (1–5) with the current resolution."""
        written = application().rate_satisfaction(conversation_id, data["rating"], data["comment"], expected_version())
        return answer(written, 201, _location(conversation_id))


@blp.route("/<uuid:conversation_id>/messages/<uuid:message_id>/retract")
class Retract(MethodView):
    @requires("conversations:write")
    @blp.arguments(s.Retraction)
    @changes(blp, s.Conversation)
    def post(self, data: dict[str, Any], conversation_id: UUID, message_id: UUID) -> Any:
        """Retract a message with a reason; it stays in history, marked."""
        return answer(
            application().retract_message(
                conversation_id, message_id, data["reason"], current_actor(), expected_version()
            )
        )
