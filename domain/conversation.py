"""The Conversation aggregate: a thread between a customer and the company's agents."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.classification import Kind, Priority, classify, initial_priority
from domain.errors import ConflictError, IllegalTransitionError, MessageNotFoundError, RuleViolationError
from domain.personal_data import PersonalText, personal, revealed
from domain.sentiment import Sentiment

Status = Literal["open", "pending", "resolved"]
Visibility = Literal["public", "private"]
Source = Literal["automatic", "agent"]


class Conversation(Aggregate):
    """Messages in and replies out, with the support state around them.

    Every text in its events (subject, messages, replies, notes, reasons, comments) is about its
    customer, so it is PersonalText sealed with the customer's key.
    """

    @classmethod
    def start(
        cls,
        customer_id: UUID,
        channel: str,
        subject: str | None,
        visibility: Visibility,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> Conversation:
        return cls(
            customer_id=customer_id,
            channel=channel,
            subject=personal(customer_id, subject),
            visibility=visibility,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("Started")
    def __init__(
        self,
        customer_id: UUID,
        channel: str,
        subject: PersonalText | None,
        visibility: Visibility,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> None:
        self.customer_id = customer_id
        self.channel = channel
        self.subject = revealed(subject)
        self.visibility = visibility
        self.started_at = occurred_at
        self.status: Status = "open"
        self.kind: Kind | None = None
        self.kind_source: Source | None = None
        self.priority: Priority = "medium"
        self.priority_source: Source | None = None
        self.assignee: dict[str, Any] | None = None
        self.escalation: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.first_inbound_at: datetime | None = None
        self.first_reply_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.csat: list[dict[str, Any]] = []
        self.rated_current_resolution = False
        self.last_activity_at = occurred_at
        self.merged_into: UUID | None = None

    # ---- messages -------------------------------------------------------------------------------

    def receive_message(
        self,
        message_id: UUID,
        text: str,
        external_id: str | None,
        sentiment: Sentiment,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> None:
        """An inbound message reopens a resolved conversation and is classified if it is the first."""
        if self.status == "resolved":
            self._reopened(automatic=True, occurred_at=occurred_at, actor=actor)
        # The first by when it happened: a message that arrives late but happened first decides.
        is_first_inbound = self.first_inbound_at is None or occurred_at < self.first_inbound_at
        self._message_received(
            message_id=message_id,
            text=self._personal(text),
            external_id=external_id,
            sentiment=sentiment,
            occurred_at=occurred_at,
            actor=actor,
        )
        kind = classify(text, sentiment["compound"])
        if is_first_inbound and self.kind_source != "agent" and kind != self.kind:
            self._classified(kind=kind, source="automatic", occurred_at=occurred_at, actor=actor)
            self._raise_default_priority_for(kind, occurred_at, actor)

    @event("MessageReceived")
    def _message_received(
        self,
        message_id: UUID,
        text: PersonalText,
        external_id: str | None,
        sentiment: Sentiment,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> None:
        self._insert_message(
            {
                "id": message_id,
                "direction": "inbound",
                "text": text.value,
                "external_id": external_id,
                "occurred_at": occurred_at,
                "sentiment": sentiment,
                "author": actor,
                "retraction": None,
            }
        )
        if self.first_inbound_at is None or occurred_at < self.first_inbound_at:
            self.first_inbound_at = occurred_at
        self.status = "open"
        self._touch(occurred_at)

    def send_reply(
        self,
        message_id: UUID,
        text: str,
        external_id: str | None,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> None:
        if self.status == "resolved":
            raise ConflictError("the conversation is resolved: reopen it before replying")
        self._reply_sent(
            message_id=message_id,
            text=self._personal(text),
            external_id=external_id,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("ReplySent")
    def _reply_sent(
        self,
        message_id: UUID,
        text: PersonalText,
        external_id: str | None,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> None:
        self._insert_message(
            {
                "id": message_id,
                "direction": "outbound",
                "text": text.value,
                "external_id": external_id,
                "occurred_at": occurred_at,
                "sentiment": None,
                "author": actor,
                "retraction": None,
            }
        )
        if self.first_reply_at is None or occurred_at < self.first_reply_at:
            self.first_reply_at = occurred_at
        self.status = "pending"
        self._touch(occurred_at)

    def _insert_message(self, message: dict[str, Any]) -> None:
        """Messages are kept in the order they happened, whatever order they arrive in."""
        position = len(self.messages)
        while position and self.messages[position - 1]["occurred_at"] > message["occurred_at"]:
            position -= 1
        self.messages.insert(position, message)

    def add_note(self, note_id: UUID, text: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self._note_added(note_id=note_id, text=self._personal(text), occurred_at=occurred_at, actor=actor)

    @event("NoteAdded")
    def _note_added(self, note_id: UUID, text: PersonalText, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.notes.append({"id": note_id, "text": text.value, "occurred_at": occurred_at, "author": actor})

    def retract_message(self, message_id: UUID, reason: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        """Honest retraction: the message stays in history, marked with who retracted it and why."""
        message = self.message(message_id)
        if message["retraction"] is not None:
            raise ConflictError(f"message {message_id} is already retracted")
        self._message_retracted(
            message_id=message_id, reason=self._personal(reason), occurred_at=occurred_at, actor=actor
        )

    @event("MessageRetracted")
    def _message_retracted(
        self, message_id: UUID, reason: PersonalText, occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        self.message(message_id)["retraction"] = {"reason": reason.value, "occurred_at": occurred_at, "actor": actor}

    def message(self, message_id: UUID) -> dict[str, Any]:
        for message in self.messages:
            if message["id"] == message_id:
                return message
        raise MessageNotFoundError(f"conversation {self.id} has no message {message_id}")

    # ---- triage ---------------------------------------------------------------------------------

    def classify_as(self, kind: Kind, occurred_at: datetime, actor: dict[str, Any]) -> None:
        """An agent's classification always wins and is never overwritten automatically."""
        if kind == self.kind and self.kind_source == "agent":
            return
        self._classified(kind=kind, source="agent", occurred_at=occurred_at, actor=actor)
        self._raise_default_priority_for(kind, occurred_at, actor)

    @event("Classified")
    def _classified(self, kind: Kind, source: Source, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.kind = kind
        self.kind_source = source

    def _raise_default_priority_for(self, kind: Kind, occurred_at: datetime, actor: dict[str, Any]) -> None:
        # Complaints start high; an agent's explicit priority is left alone.
        priority = initial_priority(kind)
        if self.priority_source != "agent" and priority != self.priority:
            self._priority_changed(priority=priority, source="automatic", occurred_at=occurred_at, actor=actor)

    def change_priority(self, priority: Priority, occurred_at: datetime, actor: dict[str, Any]) -> None:
        if priority == self.priority and self.priority_source == "agent":
            return
        self._priority_changed(priority=priority, source="agent", occurred_at=occurred_at, actor=actor)

    @event("PriorityChanged")
    def _priority_changed(
        self, priority: Priority, source: Source, occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        self.priority = priority
        self.priority_source = source

    def assign(self, agent_id: UUID, agent_name: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        if self.assignee is not None and self.assignee["id"] == agent_id:
            return
        self._assigned(agent_id=agent_id, agent_name=agent_name, occurred_at=occurred_at, actor=actor)

    @event("Assigned")
    def _assigned(self, agent_id: UUID, agent_name: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.assignee = {"id": agent_id, "name": agent_name}

    def unassign(self, occurred_at: datetime, actor: dict[str, Any]) -> None:
        if self.assignee is not None:
            self._unassigned(occurred_at=occurred_at, actor=actor)

    @event("Unassigned")
    def _unassigned(self, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.assignee = None

    def escalate(self, reason: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        if self.status == "resolved":
            raise ConflictError("a resolved conversation cannot be escalated: reopen it first")
        self._escalated(reason=self._personal(reason), occurred_at=occurred_at, actor=actor)

    @event("Escalated")
    def _escalated(self, reason: PersonalText, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.escalation = {"reason": reason.value, "occurred_at": occurred_at, "actor": actor}

    # ---- lifecycle ------------------------------------------------------------------------------

    def resolve(self, occurred_at: datetime, actor: dict[str, Any]) -> None:
        if self.status == "resolved":
            raise IllegalTransitionError("the conversation is already resolved")
        self._resolved(occurred_at=occurred_at, actor=actor)

    @event("Resolved")
    def _resolved(self, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.status = "resolved"
        self.resolved_at = occurred_at
        self.rated_current_resolution = False
        self._touch(occurred_at)

    def reopen(self, occurred_at: datetime, actor: dict[str, Any]) -> None:
        if self.status != "resolved":
            raise IllegalTransitionError("only a resolved conversation can be reopened")
        self._reopened(automatic=False, occurred_at=occurred_at, actor=actor)

    @event("Reopened")
    def _reopened(self, automatic: bool, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.status = "open"
        self.resolved_at = None
        self._touch(occurred_at)

    def rate_satisfaction(self, rating: int, comment: str | None, occurred_at: datetime, actor: dict[str, Any]) -> None:
        """CSAT is asked after a resolution, once per resolution."""
        if not 1 <= rating <= 5:
            raise RuleViolationError("a CSAT rating is between 1 and 5")
        if self.status != "resolved":
            raise ConflictError("satisfaction can only be rated after the conversation is resolved")
        if self.rated_current_resolution:
            raise ConflictError("this resolution was already rated")
        self._satisfaction_rated(
            rating=rating, comment=personal(self.customer_id, comment), occurred_at=occurred_at, actor=actor
        )

    @event("SatisfactionRated")
    def _satisfaction_rated(
        self, rating: int, comment: PersonalText | None, occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        self.csat.append({"rating": rating, "comment": revealed(comment), "occurred_at": occurred_at})
        self.rated_current_resolution = True

    # ---- threads found to be one ------------------------------------------------------------------

    def check_not_merged(self) -> None:
        if self.merged_into is not None:
            raise ConflictError(f"conversation {self.id} was merged into conversation {self.merged_into}")

    def absorb(self, other: Conversation, occurred_at: datetime, actor: dict[str, Any]) -> None:
        """Take in the messages of a conversation that turned out to continue this one (a message
        that arrived late linked them); the other one points here from then on."""
        self.check_not_merged()
        other.check_not_merged()
        if other.id == self.id:
            raise ConflictError("a conversation cannot absorb itself")
        moved = [
            {**message, "text": PersonalText(other.customer_id, message["text"])}
            for message in other.messages
            if message["retraction"] is None
        ]
        earliest_inbound = min((m["occurred_at"] for m in moved if m["direction"] == "inbound"), default=None)
        self._absorbed(conversation_id=other.id, messages=moved, occurred_at=occurred_at, actor=actor)
        other._merged_into(survivor_id=self.id, occurred_at=occurred_at, actor=actor)
        if earliest_inbound is not None and earliest_inbound == self.first_inbound_at and self.kind_source != "agent":
            first = next(
                m for m in self.messages if m["occurred_at"] == earliest_inbound and m["direction"] == "inbound"
            )
            kind = classify(first["text"], first["sentiment"]["compound"])
            if kind != self.kind:
                self._classified(kind=kind, source="automatic", occurred_at=occurred_at, actor=actor)
                self._raise_default_priority_for(kind, occurred_at, actor)

    @event("Absorbed")
    def _absorbed(
        self, conversation_id: UUID, messages: list[dict[str, Any]], occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        for message in messages:
            self._insert_message({**message, "text": message["text"].value})
            if message["direction"] == "inbound":
                if self.first_inbound_at is None or message["occurred_at"] < self.first_inbound_at:
                    self.first_inbound_at = message["occurred_at"]
            elif self.first_reply_at is None or message["occurred_at"] < self.first_reply_at:
                self.first_reply_at = message["occurred_at"]
            self._touch(message["occurred_at"])
        if self.status != "resolved" and self.messages:
            # As if every message had arrived in order: the latest one says whose turn it is.
            self.status = "open" if self.messages[-1]["direction"] == "inbound" else "pending"

    @event("MergedInto")
    def _merged_into(self, survivor_id: UUID, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.merged_into = survivor_id

    def _personal(self, text: str) -> PersonalText:
        return PersonalText(self.customer_id, text)

    def _touch(self, occurred_at: datetime) -> None:
        self.last_activity_at = max(self.last_activity_at, occurred_at)
