"""Batch ingest of channel messages: find or create each customer, thread messages by reply chain.

Threading rules (DESIGN.md, issue 6), applied in the order the messages happened:
- an inbound message from customer C that replies to a message of one of C's conversations
  joins it; one that replies to someone else's conversation, to a broadcast or to nothing known
  starts a new conversation of C, keeping the reference;
- an outbound message that replies to a message joins that message's conversation as a reply by
  the brand agent named as its author;
- an outbound message that replies to nothing is a broadcast: it starts no conversation and is
  answered as `ignored`.

A batch is sorted by when its messages happened before it is threaded, so the order inside a call
never matters. Across calls, whatever arrived before the message it replies to waits for it (an
`AwaitedMessage` index): a customer's reply has started a conversation of its own, which the late
message joins, or which is absorbed into the conversation the late message joins; a brand reply is
held (answered `pending`) and recorded in that conversation when the message arrives. The result
is the one the messages would have given in the order they happened.

All events of a batch are saved in one transaction: that is where ingest throughput comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.conversation import Conversation
from domain.customer import Customer, current_person, identity_key
from domain.errors import CustomerInactiveError, DomainError
from domain.indexes import AwaitedMessage, Dossier, IdentityClaim, MessageReference
from domain.sentiment import analyse

if TYPE_CHECKING:
    from domain.application import CustomerRelations

Direction = Literal["inbound", "outbound"]
Status = Literal["created", "duplicate", "pending", "ignored", "rejected"]

MAX_BATCH = 1000


@dataclass(frozen=True)
class ChannelMessage:
    """One message as a channel connector sees it."""

    channel: str
    external_id: str
    direction: Direction
    author_handle: str
    author_name: str | None
    text: str
    occurred_at: datetime
    in_reply_to: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one message of a batch."""

    external_id: str
    status: Status
    reason: str | None = None
    customer_id: UUID | None = None
    conversation_id: UUID | None = None
    message_id: UUID | None = None


class Skipped(DomainError):
    """A message that is not recorded, with the reason; the rest of the batch goes on."""

    def __init__(self, status: Status, reason: str, conversation_id: UUID | None = None) -> None:
        super().__init__(reason)
        self.status: Status = status
        self.reason = reason
        self.conversation_id = conversation_id


class IngestBatch:
    """Threads one batch against the store and the batch's own not-yet-saved aggregates."""

    def __init__(self, application: CustomerRelations, actor: Actor) -> None:
        self.app = application
        self.actor = actor
        self._aggregates: dict[UUID, Any] = {}  # read or created in this batch, by id
        self._changed: dict[UUID, Aggregate] = {}
        self.spent_keys: list[UUID] = []

    # ---- the batch's view of the store ----------------------------------------------------------

    def _find(self, aggregate_id: UUID) -> Any:
        if aggregate_id not in self._aggregates:
            self._aggregates[aggregate_id] = self.app._find(aggregate_id)
        return self._aggregates[aggregate_id]

    def _keep(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self._aggregates[aggregate.id] = aggregate
            self._changed[aggregate.id] = aggregate

    def changed(self) -> list[Aggregate]:
        return list(self._changed.values())

    def new_customer_ids(self) -> list[UUID]:
        return [aggregate_id for aggregate_id in self._changed if isinstance(self._changed[aggregate_id], Customer)]

    def _person(self, customer_id: UUID) -> Customer:
        """The customer a record belongs to now (following merges); raises if forgotten."""
        return current_person(self._find(customer_id), self._find)

    # ---- threading ------------------------------------------------------------------------------

    def ingest(self, message: ChannelMessage) -> Outcome:
        reference: MessageReference | None = self._find(MessageReference.id_for(message.channel, message.external_id))
        if reference is not None:
            return Outcome(
                message.external_id, "duplicate", conversation_id=self._current(reference.conversation_id).id
            )
        try:
            if message.direction == "inbound":
                return self._inbound(message)
            return self._outbound(message)
        except Skipped as skipped:
            return Outcome(message.external_id, skipped.status, skipped.reason, conversation_id=skipped.conversation_id)

    def _current(self, conversation_id: UUID) -> Conversation:
        """The conversation, or the one it was merged into (and so on)."""
        conversation: Conversation = self._find(conversation_id)
        while conversation.merged_into is not None:
            conversation = self._find(conversation.merged_into)
        return conversation

    def _conversation_of(self, channel: str, external_id: str | None) -> Conversation | None:
        if external_id is None:
            return None
        reference: MessageReference | None = self._find(MessageReference.id_for(channel, external_id))
        return None if reference is None else self._current(reference.conversation_id)

    def _awaited(self, channel: str, external_id: str) -> AwaitedMessage | None:
        awaited: AwaitedMessage | None = self._find(AwaitedMessage.id_for(channel, external_id))
        return awaited

    def _inbound(self, message: ChannelMessage) -> Outcome:
        customer = self._customer(message)
        conversation = self._conversation_of(message.channel, message.in_reply_to)
        if conversation is not None and not self._belongs_to(conversation, customer):
            conversation = None  # a reply to someone else's conversation starts one of the customer's own
        if conversation is None:
            conversation = self._waiting_for(message, customer) or self._start(customer, message)
            if message.in_reply_to is not None and self._conversation_of(message.channel, message.in_reply_to) is None:
                self._await(message.channel, message.in_reply_to, conversation)
        message_id = uuid4()
        conversation.receive_message(
            message_id=message_id,
            text=message.text,
            external_id=message.external_id,
            sentiment=analyse(message.text),
            occurred_at=message.occurred_at,
            actor=Actor.customer(conversation.customer_id).as_dict(),
        )
        self._record(message.channel, message.external_id, conversation, message_id)
        return Outcome(message.external_id, "created", None, customer.id, conversation.id, message_id)

    def _outbound(self, message: ChannelMessage) -> Outcome:
        brand = message.author_name or message.author_handle
        if message.in_reply_to is None:
            self._arrived_without_conversation(message.channel, message.external_id)
            raise Skipped("ignored", "a broadcast: it replies to no message, so it starts no conversation")
        conversation = self._conversation_of(message.channel, message.in_reply_to)
        if conversation is None:
            awaited = self._awaited(message.channel, message.in_reply_to)
            if awaited is not None and awaited.broadcast:
                self._arrived_without_conversation(message.channel, message.external_id)
                raise Skipped("ignored", f"it replies to {message.in_reply_to}, a broadcast, not a conversation")
            return self._hold(message, brand)
        self._check_can_reply(conversation)
        message_id = self._reply(
            conversation, message.channel, message.external_id, brand, message.text, message.occurred_at
        )
        return Outcome(message.external_id, "created", None, conversation.customer_id, conversation.id, message_id)

    def _check_can_reply(self, conversation: Conversation) -> None:
        try:
            self._person(conversation.customer_id)
        except CustomerInactiveError as error:
            raise Skipped("rejected", str(error), conversation.id) from None
        if conversation.status == "resolved":
            raise Skipped("rejected", "the conversation is resolved: reopen it before replying", conversation.id)

    def _reply(
        self, conversation: Conversation, channel: str, external_id: str, brand: str, text: str, at: datetime
    ) -> UUID:
        message_id = uuid4()
        conversation.send_reply(
            message_id=message_id,
            text=text,
            external_id=external_id,
            occurred_at=at,
            actor=Actor(kind="agent", name=brand).as_dict(),
        )
        self._record(channel, external_id, conversation, message_id)
        return message_id

    def _hold(self, message: ChannelMessage, brand: str) -> Outcome:
        """A brand reply to a message not received yet waits for it, then joins its conversation."""
        assert message.in_reply_to is not None
        awaited = self._awaited_index(message.channel, message.in_reply_to)
        if awaited.holds(message.external_id):
            return Outcome(message.external_id, "duplicate", f"still waiting for {message.in_reply_to}")
        awaited.hold_reply(message.external_id, brand, message.text, message.occurred_at, self.actor.as_dict())
        self._keep(awaited)
        return Outcome(
            message.external_id,
            "pending",
            f"it replies to {message.channel} message {message.in_reply_to}, not received yet: "
            "it joins that message's conversation when it arrives",
        )

    def _belongs_to(self, conversation: Conversation, customer: Customer) -> bool:
        try:
            return self._person(conversation.customer_id).id == customer.id
        except CustomerInactiveError:
            return False

    def _customer(self, message: ChannelMessage) -> Customer:
        """The customer holding the author's identity, or a new one (also after an erasure)."""
        claim_id = IdentityClaim.id_for(identity_key(message.channel, message.author_handle))
        claim: IdentityClaim | None = self._find(claim_id)
        if claim is not None and claim.customer_id is not None:
            try:
                return self._person(claim.customer_id)
            except CustomerInactiveError as error:
                raise Skipped("rejected", str(error)) from None
        customer = Customer.register(
            name=message.author_name or message.author_handle,
            identities=[{"channel": message.channel, "handle": message.author_handle}],
            email=None,
            locale=None,
            occurred_at=message.occurred_at,
            actor=self.actor.as_dict(),
        )
        if claim is None:
            claim = IdentityClaim(id=claim_id, customer_id=customer.id)
        else:
            claim.reclaim(customer.id)
        self._keep(customer, claim, Dossier(id=Dossier.id_for(customer.id), customer_id=customer.id))
        return customer

    def _waiting_for(self, message: ChannelMessage, customer: Customer) -> Conversation | None:
        """A conversation of this customer that started with a reply to this message."""
        awaited = self._awaited(message.channel, message.external_id)
        for conversation_id in awaited.conversation_ids if awaited else []:
            conversation = self._current(conversation_id)
            if self._belongs_to(conversation, customer):
                return conversation
        return None

    def _start(self, customer: Customer, message: ChannelMessage) -> Conversation:
        conversation = Conversation.start(
            customer_id=customer.id,
            channel=message.channel,
            subject=None,
            visibility="public",
            occurred_at=message.occurred_at,
            actor=self.actor.as_dict(),
        )
        dossier: Dossier = self._find(Dossier.id_for(customer.id))
        dossier.file_conversation(conversation.id)
        self._keep(conversation, dossier)
        return conversation

    def _awaited_index(self, channel: str, external_id: str) -> AwaitedMessage:
        awaited = self._awaited(channel, external_id)
        if awaited is None:
            awaited = AwaitedMessage(id=AwaitedMessage.id_for(channel, external_id))
            self._keep(awaited)
        return awaited

    def _await(self, channel: str, external_id: str, conversation: Conversation) -> None:
        awaited = self._awaited_index(channel, external_id)
        awaited.await_in(conversation.id)
        self._keep(awaited)

    def _record(self, channel: str, external_id: str, conversation: Conversation, message_id: UUID) -> None:
        reference = MessageReference(
            id=MessageReference.id_for(channel, external_id), conversation_id=conversation.id, message_id=message_id
        )
        self._keep(conversation, reference)
        self._settle(channel, external_id, conversation)

    # ---- messages that came before the one they reply to ------------------------------------------

    def _settle(self, channel: str, external_id: str, conversation: Conversation) -> None:
        """A message landed in a conversation: what was waiting for it joins that conversation.

        Conversations that a reply to it started, by the same person, are absorbed (in order they
        would have been one); brand replies held for it are recorded in it, and settle in turn.
        """
        awaited = self._awaited(channel, external_id)
        if awaited is None or awaited.arrived:
            return
        awaited.arrive(broadcast=False)
        self._keep(awaited)
        for conversation_id in awaited.conversation_ids:
            waiting = self._current(conversation_id)
            # The conversation a message just landed in always belongs to an active person.
            if waiting.id != conversation.id and self._belongs_to(waiting, self._person(conversation.customer_id)):
                conversation.absorb(waiting, occurred_at=self.app.clock(), actor=self.actor.as_dict())
                self._keep(conversation, waiting)
        for held in sorted(awaited.held_replies, key=lambda r: (r["occurred_at"], r["external_id"])):
            if (
                conversation.status != "resolved"
                and self._find(MessageReference.id_for(channel, held["external_id"])) is None
            ):
                self._reply(
                    conversation, channel, held["external_id"], held["author_name"], held["text"], held["occurred_at"]
                )
        if awaited.held_replies:
            self.spent_keys.append(awaited.id)  # the held copies: destroyed once the batch is saved

    def _arrived_without_conversation(self, channel: str, external_id: str) -> None:
        """A broadcast: replies held for it are dropped, as they would have been in order."""
        awaited = self._awaited_index(channel, external_id)
        if not awaited.arrived:
            awaited.arrive(broadcast=True)
            self._keep(awaited)
            if awaited.held_replies:
                self.spent_keys.append(awaited.id)


def in_occurred_order(messages: list[ChannelMessage]) -> list[int]:
    """Indexes of the messages in the order they happened (ties: by external id, then as sent)."""
    return sorted(range(len(messages)), key=lambda i: (messages[i].occurred_at, messages[i].external_id, i))
