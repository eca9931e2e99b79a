"""Index aggregates: uniqueness and look-ups enforced atomically by the event store.

Each index has a deterministic id (uuid5 of its key). Creating an index that already exists
fails in the store with an integrity error, so two concurrent writers can never both claim the
same key. Keys are hashed into the id and never stored as plain text in events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.personal_data import PersonalText

NAMESPACE = UUID("6f1c1f3e-8a55-4a59-9a43-3c1d1a4e2b77")


def index_id(kind: str, key: str) -> UUID:
    return uuid5(NAMESPACE, f"{kind}:{key}")


class IdentityClaim(Aggregate):
    """Which customer holds a channel identity; released when unlinked or forgotten."""

    @staticmethod
    def id_for(key: str) -> UUID:
        return index_id("identity", key)

    @event("Claimed")
    def __init__(self, id: UUID, customer_id: UUID) -> None:
        self.customer_id: UUID | None = customer_id

    def reclaim(self, customer_id: UUID) -> None:
        self._claimed_again(customer_id=customer_id)

    @event("ClaimedAgain")
    def _claimed_again(self, customer_id: UUID) -> None:
        self.customer_id = customer_id

    def release(self) -> None:
        if self.customer_id is not None:
            self._released()

    @event("Released")
    def _released(self) -> None:
        self.customer_id = None


class MessageReference(Aggregate):
    """Which conversation holds the message with a channel's external id."""

    @staticmethod
    def id_for(channel: str, external_id: str) -> UUID:
        return index_id("message", f"{channel}:{external_id}")

    @event("Registered")
    def __init__(self, id: UUID, conversation_id: UUID, message_id: UUID) -> None:
        self.conversation_id = conversation_id
        self.message_id = message_id


class TokenReference(Aggregate):
    """Which agent a token hash was issued to (the agent decides whether it is still valid)."""

    @staticmethod
    def id_for(token_hash: str) -> UUID:
        return index_id("token", token_hash)

    @event("Issued")
    def __init__(self, id: UUID, agent_id: UUID) -> None:
        self.agent_id = agent_id


class AgentRoster(Aggregate):
    """The one list of all agents; its creation marks the store as bootstrapped."""

    ID = index_id("roster", "agents")

    @event("Opened")
    def __init__(self, id: UUID) -> None:
        self.agent_ids: list[UUID] = []

    def enrol(self, agent_id: UUID) -> None:
        self._enrolled(agent_id=agent_id)

    @event("Enrolled")
    def _enrolled(self, agent_id: UUID) -> None:
        self.agent_ids.append(agent_id)


class Dossier(Aggregate):
    """The conversations and contributions of one customer, for their timeline and export."""

    @staticmethod
    def id_for(customer_id: UUID) -> UUID:
        return index_id("dossier", str(customer_id))

    @event("Opened")
    def __init__(self, id: UUID, customer_id: UUID) -> None:
        self.customer_id = customer_id
        self.conversation_ids: list[UUID] = []
        self.contribution_ids: list[UUID] = []

    def file_conversation(self, conversation_id: UUID) -> None:
        self._conversation_filed(conversation_id=conversation_id)

    @event("ConversationFiled")
    def _conversation_filed(self, conversation_id: UUID) -> None:
        self.conversation_ids.append(conversation_id)

    def file_contribution(self, contribution_id: UUID) -> None:
        self._contribution_filed(contribution_id=contribution_id)

    @event("ContributionFiled")
    def _contribution_filed(self, contribution_id: UUID) -> None:
        self.contribution_ids.append(contribution_id)


class AwaitedMessage(Aggregate):
    """A channel message that others replied to before it arrived: the conversations its replies
    started and the brand replies held for it. When it arrives, those conversations and replies
    join the conversation it lands in, as if everything had arrived in order.

    Held replies are personal data of a customer not known yet: they are sealed with a key of this
    index's own, destroyed once the replies are recorded in their conversation.
    """

    @staticmethod
    def id_for(channel: str, external_id: str) -> UUID:
        return index_id("awaited", f"{channel}:{external_id}")

    @event("Opened")
    def __init__(self, id: UUID) -> None:
        self.conversation_ids: list[UUID] = []
        self.held_replies: list[dict[str, Any]] = []
        self.arrived = False
        self.broadcast = False

    def await_in(self, conversation_id: UUID) -> None:
        if conversation_id not in self.conversation_ids:
            self._awaited(conversation_id=conversation_id)

    @event("Awaited")
    def _awaited(self, conversation_id: UUID) -> None:
        self.conversation_ids.append(conversation_id)

    def holds(self, external_id: str) -> bool:
        return any(reply["external_id"] == external_id for reply in self.held_replies)

    def hold_reply(
        self, external_id: str, author_name: str, text: str, occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        self._reply_held(
            external_id=external_id,
            author_name=author_name,
            text=PersonalText(self.id, text),
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("ReplyHeld")
    def _reply_held(
        self, external_id: str, author_name: str, text: PersonalText, occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        held = {"external_id": external_id, "author_name": author_name, "text": text.value, "occurred_at": occurred_at}
        self.held_replies.append(held)

    def arrive(self, broadcast: bool) -> None:
        if not self.arrived:
            self._arrived(broadcast=broadcast)

    @event("Arrived")
    def _arrived(self, broadcast: bool) -> None:
        self.arrived = True
        self.broadcast = broadcast
