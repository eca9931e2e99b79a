"""The CustomerRelations application: every command and query of the write side."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, ParamSpec, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, IntegrityError, JSONTranscoder, Recording

from domain.actor import Actor
from domain.agent import Agent, Role, hash_token, new_token
from domain.classification import Kind, Priority
from domain.contribution import Contribution, ContributionKind, ContributionStatus
from domain.conversation import Conversation, Visibility
from domain.customer import Customer, Identity, current_person, identity_key
from domain.errors import (
    AgentNotFoundError,
    AuthenticationError,
    ConcurrentChangeError,
    ContributionNotFoundError,
    ConversationNotFoundError,
    CustomerNotFoundError,
    DuplicateIdentityError,
    DuplicateMessageError,
    NotFoundError,
    RuleViolationError,
    StaleVersionError,
)
from domain.indexes import AgentRoster, Dossier, IdentityClaim, MessageReference, TokenReference
from domain.ingest import MAX_BATCH, ChannelMessage, IngestBatch, Outcome, in_occurred_order
from domain.keyring import Keyring, SealedTextTranscoding, key_store_for
from domain.sentiment import analyse
from domain.targets import ResponseTargets
from domain.timeline import TimelineEntry, timeline_entries

A = TypeVar("A", bound=Aggregate)
P = ParamSpec("P")
R = TypeVar("R")

# How often a command is re-run when a concurrent writer saved the same aggregate first.
CONFLICT_ATTEMPTS = 3

SUPPORT_ROLES: tuple[Role, ...] = ("admin", "agent")


@dataclass(frozen=True)
class Written(Generic[A]):
    """An aggregate after a command, and the log position of the command's last event.

    ``position`` is None when the command changed nothing (e.g. setting consent to what it is).
    """

    aggregate: A
    position: int | None


@dataclass(frozen=True)
class CustomerRecords:
    """Everything stored about one person: their record, the duplicates merged into it, and the
    conversations and contributions of each (the right of access)."""

    customer: Customer
    merged_duplicates: list[Customer]
    conversations: list[Conversation]
    contributions: list[Contribution]


@dataclass(frozen=True)
class Ingested:
    """The outcome of each message of a batch, in the order sent, and the position of the last event."""

    outcomes: list[Outcome]
    position: int | None


@dataclass(frozen=True)
class InboundMessage:
    text: str
    external_id: str | None = None
    occurred_at: datetime | None = None


def retried_on_conflict(command: Callable[P, R]) -> Callable[P, R]:
    """Re-run a command whose save lost a race; each run re-reads the aggregates it needs.

    Commands are functions of their arguments and the stored state, so running one again is
    safe. Uniqueness is checked before saving, so a real duplicate surfaces as its domain error
    on the next attempt rather than as a conflict.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(CONFLICT_ATTEMPTS - 1):
            try:
                return command(*args, **kwargs)
            except IntegrityError:
                continue
        try:
            return command(*args, **kwargs)
        except IntegrityError:
            raise ConcurrentChangeError("the same records were changed concurrently; try again") from None

    return run


def utc_now() -> datetime:
    return datetime.now(UTC)


class KeyScopedEventStore(EventStore[UUID]):
    """Reads an aggregate's events with each customer's key looked up once for the whole read."""

    def __init__(self, keyring: Keyring, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keyring = keyring

    def get(self, *args: Any, **kwargs: Any) -> Any:
        with self.keyring.cached():
            return iter(list(super().get(*args, **kwargs)))


class CustomerRelations(Application[UUID]):
    """Customers, their conversations and contributions, and the agents who serve them."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        targets: ResponseTargets | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.keyring = Keyring()  # the transcoder needs it before the store (and its key table) opens
        super().__init__(env)
        self.keyring.store = key_store_for(self.recorder)
        self.targets = targets or ResponseTargets()
        self.clock = clock

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(SealedTextTranscoding(self.keyring))

    def construct_event_store(self) -> EventStore[UUID]:
        return KeyScopedEventStore(self.keyring, mapper=self.mapper, recorder=self.recorder)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        with self.keyring.cached():
            return super().save(*objs, **kwargs)

    # ---- plumbing -------------------------------------------------------------------------------

    def _written(self, result: A, *aggregates: Aggregate) -> Written[A]:
        recordings = self.save(*aggregates)
        return Written(result, recordings[-1].notification.id if recordings else None)

    def _get(self, cls: type[A], aggregate_id: UUID, error: type[NotFoundError]) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise error(f"no {cls.__name__.lower()} with id {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise error(f"no {cls.__name__.lower()} with id {aggregate_id}")
        return aggregate

    def _find(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    @staticmethod
    def _check_version(aggregate: Aggregate, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != aggregate.version:
            raise StaleVersionError(expected_version, aggregate.version)

    def _at(self, occurred_at: datetime | None) -> datetime:
        return (occurred_at or self.clock()).astimezone(UTC)

    @property
    def head_position(self) -> int:
        """The position of the newest event in the store (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    # ---- customers ------------------------------------------------------------------------------

    def get_customer(self, customer_id: UUID) -> Customer:
        return self._get(Customer, customer_id, CustomerNotFoundError)

    def _active_customer(self, customer_id: UUID, expected_version: int | None = None) -> Customer:
        customer = self.get_customer(customer_id)
        self._check_version(customer, expected_version)
        customer.check_is_active()
        return customer

    def _survivor(self, customer_id: UUID) -> Customer:
        """The customer a person is now: their record, or the one it was merged into, and so on."""
        return current_person(self.get_customer(customer_id), self.get_customer)

    def _people(self, customer: Customer) -> list[Customer]:
        """A customer and every duplicate merged into them, however deep the merges go."""
        people, pending = [], [customer]
        while pending:
            person = pending.pop()
            people.append(person)
            pending += [self.get_customer(d) for d in person.merged_duplicates]
        return people

    def people_of(self, customer_id: UUID) -> list[UUID]:
        """The customer's id and those of every duplicate merged into them."""
        return [person.id for person in self._people(self.get_customer(customer_id))]

    def _claim_identity(self, customer_id: UUID, channel: str, handle: str) -> IdentityClaim:
        claim_id = IdentityClaim.id_for(identity_key(channel, handle))
        claim: IdentityClaim | None = self._find(claim_id)
        if claim is None:
            return IdentityClaim(id=claim_id, customer_id=customer_id)
        if claim.customer_id is not None:
            raise DuplicateIdentityError(f"identity {channel}:{handle} already belongs to customer {claim.customer_id}")
        claim.reclaim(customer_id)
        return claim

    def _release_identities(self, identities: Iterable[Identity]) -> list[IdentityClaim]:
        claims = []
        for identity in identities:
            claim: IdentityClaim | None = self._find(IdentityClaim.id_for(identity_key(**identity)))
            if claim is not None:
                claim.release()
                claims.append(claim)
        return claims

    @retried_on_conflict
    def register_customer(
        self,
        name: str,
        identities: list[Identity],
        email: str | None,
        locale: str | None,
        actor: Actor,
        occurred_at: datetime | None = None,
    ) -> Written[Customer]:
        """Register a customer; each channel identity may belong to one customer only."""
        keys = [identity_key(**i) for i in identities]
        if len(set(keys)) != len(keys):
            raise RuleViolationError("the same identity is listed twice")
        customer = Customer.register(
            name=name,
            identities=identities,
            email=email,
            locale=locale,
            occurred_at=self._at(occurred_at),
            actor=actor.as_dict(),
        )
        claims = [self._claim_identity(customer.id, i["channel"], i["handle"]) for i in identities]
        dossier = Dossier(id=Dossier.id_for(customer.id), customer_id=customer.id)
        return self._written(customer, customer, *claims, dossier)

    @retried_on_conflict
    def update_customer_profile(
        self, customer_id: UUID, changes: dict[str, Any], actor: Actor, expected_version: int | None = None
    ) -> Written[Customer]:
        """Change name, e-mail or locale."""
        customer = self._active_customer(customer_id, expected_version)
        customer.update_profile(changes, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(customer, customer)

    @retried_on_conflict
    def link_identity(
        self, customer_id: UUID, channel: str, handle: str, actor: Actor, expected_version: int | None = None
    ) -> Written[Customer]:
        """Give a customer another channel identity, unless another customer holds it."""
        customer = self._active_customer(customer_id, expected_version)
        claim = self._claim_identity(customer.id, channel, handle)
        customer.link_identity(channel, handle, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(customer, customer, claim)

    @retried_on_conflict
    def unlink_identity(
        self, customer_id: UUID, channel: str, handle: str, actor: Actor, expected_version: int | None = None
    ) -> Written[Customer]:
        """Remove a channel identity; it becomes free for another customer."""
        customer = self._active_customer(customer_id, expected_version)
        customer.unlink_identity(channel, handle, occurred_at=self._at(None), actor=actor.as_dict())
        claims = self._release_identities([{"channel": channel, "handle": handle}])
        return self._written(customer, customer, *claims)

    @retried_on_conflict
    def tag_customer(
        self, customer_id: UUID, tag: str, actor: Actor, expected_version: int | None = None
    ) -> Written[Customer]:
        """Add a tag (adding one the customer has changes nothing)."""
        customer = self._active_customer(customer_id, expected_version)
        customer.tag(tag, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(customer, customer)

    @retried_on_conflict
    def untag_customer(
        self, customer_id: UUID, tag: str, actor: Actor, expected_version: int | None = None
    ) -> Written[Customer]:
        """Remove a tag (removing one the customer lacks changes nothing)."""
        customer = self._active_customer(customer_id, expected_version)
        customer.untag(tag, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(customer, customer)

    @retried_on_conflict
    def set_marketing_consent(
        self,
        customer_id: UUID,
        given: bool,
        source: str | None,
        actor: Actor,
        expected_version: int | None = None,
    ) -> Written[Customer]:
        """Record that the customer gave or withdrew marketing consent."""
        customer = self._active_customer(customer_id, expected_version)
        customer.set_marketing_consent(given, source, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(customer, customer)

    @retried_on_conflict
    def give_nps(
        self,
        customer_id: UUID,
        score: int,
        comment: str | None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Written[Customer]:
        """Record the customer's answer to "how likely are you to recommend us" (0–10)."""
        customer = self._active_customer(customer_id, expected_version)
        customer.give_nps(
            score, comment, occurred_at=self._at(occurred_at), actor=Actor.customer(customer.id).as_dict()
        )
        return self._written(customer, customer)

    @retried_on_conflict
    def merge_customers(
        self, survivor_id: UUID, duplicate_id: UUID, actor: Actor, expected_version: int | None = None
    ) -> Written[Customer]:
        """Merge a duplicate into the survivor; the duplicate keeps its history and points at it."""
        if survivor_id == duplicate_id:
            raise RuleViolationError("a customer cannot be merged into itself")
        survivor = self._active_customer(survivor_id, expected_version)
        duplicate = self._active_customer(duplicate_id)
        occurred_at = self._at(None)
        duplicate.merge_into(survivor.id, occurred_at=occurred_at, actor=actor.as_dict())
        survivor.absorb_duplicate(duplicate.id, occurred_at=occurred_at, actor=actor.as_dict())
        return self._written(survivor, survivor, duplicate)

    @retried_on_conflict
    def forget_customer(
        self, customer_id: UUID, reason: str | None, actor: Actor, expected_version: int | None = None
    ) -> Written[Customer]:
        """Erase the customer's personal data, with their merged duplicates; statistics stay."""
        customer = self.get_customer(customer_id)
        self._check_version(customer, expected_version)
        occurred_at = self._at(None)
        people = [person for person in self._people(customer) if person.forgotten_at is None]
        changed: list[Aggregate] = []
        for person in people:
            changed.extend(self._release_identities(person.identities))
            person.forget(reason, occurred_at=occurred_at, actor=actor.as_dict())
            changed.append(person)
        if customer not in changed:
            customer.forget(reason, occurred_at=occurred_at, actor=actor.as_dict())  # raises: already forgotten
        written = self._written(customer, *changed)
        # After the save, which needs the plain handles to free the identities. Should this
        # process die in between, the projector destroys the keys when it meets the events.
        self.keyring.destroy(person.id for person in people)
        return written

    def export_customer(self, customer_id: UUID) -> CustomerRecords:
        """All records of a customer and of every duplicate merged into them."""
        customer = self.get_customer(customer_id)
        people = self._people(customer)
        conversations: list[Conversation] = []
        contributions: list[Contribution] = []
        for person in people:
            dossier = self._dossier(person.id)
            conversations += [self.get_conversation(i) for i in dossier.conversation_ids]
            contributions += [self.get_contribution(i) for i in dossier.contribution_ids]
        return CustomerRecords(customer, people[1:], conversations, contributions)

    def get_timeline(self, customer_id: UUID) -> list[TimelineEntry]:
        """Everything that happened with a customer and their merged duplicates, oldest first."""
        entries: list[TimelineEntry] = []
        for person in self._people(self.get_customer(customer_id)):
            aggregate_ids = [person.id]
            dossier: Dossier | None = self._find(Dossier.id_for(person.id))
            if dossier is not None:
                aggregate_ids += dossier.conversation_ids + dossier.contribution_ids
            events = [e for aggregate_id in aggregate_ids for e in self.events.get(aggregate_id)]
            # Each person's own erasure decides what of their history is hidden.
            entries += timeline_entries(events, forgotten=person.forgotten_at is not None)
        return sorted(entries, key=lambda entry: entry.sort_key)

    # ---- conversations --------------------------------------------------------------------------

    def get_conversation(self, conversation_id: UUID) -> Conversation:
        return self._get(Conversation, conversation_id, ConversationNotFoundError)

    def _dossier(self, customer_id: UUID) -> Dossier:
        dossier: Dossier | None = self._find(Dossier.id_for(customer_id))
        if dossier is None:
            raise CustomerNotFoundError(f"no customer with id {customer_id}")
        return dossier

    def _message_reference(
        self, conversation: Conversation, message_id: UUID, external_id: str | None
    ) -> list[MessageReference]:
        """Claim the channel's external id of a message, so that it is recorded once."""
        if external_id is None:
            return []
        reference_id = MessageReference.id_for(conversation.channel, external_id)
        existing: MessageReference | None = self._find(reference_id)
        if existing is not None:
            raise DuplicateMessageError(
                f"message {external_id} on {conversation.channel} was already recorded "
                f"in conversation {existing.conversation_id}"
            )
        return [MessageReference(id=reference_id, conversation_id=conversation.id, message_id=message_id)]

    def _receive(self, conversation: Conversation, message: InboundMessage) -> list[MessageReference]:
        message_id = uuid4()
        references = self._message_reference(conversation, message_id, message.external_id)
        conversation.receive_message(
            message_id=message_id,
            text=message.text,
            external_id=message.external_id,
            sentiment=analyse(message.text),
            occurred_at=self._at(message.occurred_at),
            actor=Actor.customer(conversation.customer_id).as_dict(),
        )
        return references

    def _check_not_forgotten(self, customer_id: UUID) -> None:
        """Nothing more is recorded about a forgotten customer (a merged one's records still count)."""
        customer = self.get_customer(customer_id)
        if customer.forgotten_at is not None:
            customer.check_is_active()

    def _conversation(self, conversation_id: UUID, expected_version: int | None) -> Conversation:
        conversation = self.get_conversation(conversation_id)
        self._check_version(conversation, expected_version)
        conversation.check_not_merged()
        self._check_not_forgotten(conversation.customer_id)
        return conversation

    @retried_on_conflict
    def start_conversation(
        self,
        customer_id: UUID,
        channel: str,
        subject: str | None,
        visibility: Visibility,
        actor: Actor,
        occurred_at: datetime | None = None,
        message: InboundMessage | None = None,
    ) -> Written[Conversation]:
        """Open a conversation with a customer, optionally with its first inbound message."""
        self._active_customer(customer_id)
        dossier = self._dossier(customer_id)
        started_at = self._at(occurred_at or (message.occurred_at if message else None))
        if message is not None and message.occurred_at is None:
            message = replace(message, occurred_at=started_at)  # one moment, not two clock readings
        conversation = Conversation.start(
            customer_id=customer_id,
            channel=channel,
            subject=subject,
            visibility=visibility,
            occurred_at=started_at,
            actor=actor.as_dict(),
        )
        dossier.file_conversation(conversation.id)
        references = self._receive(conversation, message) if message else []
        return self._written(conversation, conversation, dossier, *references)

    @retried_on_conflict
    def receive_message(
        self, conversation_id: UUID, message: InboundMessage, expected_version: int | None = None
    ) -> Written[Conversation]:
        """Record a customer's message; it reopens a resolved conversation."""
        conversation = self._conversation(conversation_id, expected_version)
        self._survivor(conversation.customer_id)  # a merged duplicate's old thread still counts
        references = self._receive(conversation, message)
        return self._written(conversation, conversation, *references)

    @retried_on_conflict
    def send_reply(
        self,
        conversation_id: UUID,
        text: str,
        actor: Actor,
        external_id: str | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Written[Conversation]:
        """Answer the customer, signed by the named agent."""
        conversation = self._conversation(conversation_id, expected_version)
        message_id = uuid4()
        references = self._message_reference(conversation, message_id, external_id)
        conversation.send_reply(
            message_id=message_id,
            text=text,
            external_id=external_id,
            occurred_at=self._at(occurred_at),
            actor=actor.as_dict(),
        )
        return self._written(conversation, conversation, *references)

    @retried_on_conflict
    def add_note(
        self, conversation_id: UUID, text: str, actor: Actor, expected_version: int | None = None
    ) -> Written[Conversation]:
        """Add an internal note that the customer never sees."""
        conversation = self._conversation(conversation_id, expected_version)
        conversation.add_note(uuid4(), text, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(conversation, conversation)

    @retried_on_conflict
    def assign_conversation(
        self, conversation_id: UUID, agent_id: UUID | None, actor: Actor, expected_version: int | None = None
    ) -> Written[Conversation]:
        """Give the conversation to a support agent, or to nobody with None."""
        conversation = self._conversation(conversation_id, expected_version)
        occurred_at = self._at(None)
        if agent_id is None:
            conversation.unassign(occurred_at=occurred_at, actor=actor.as_dict())
        else:
            agent = self.get_agent(agent_id)
            if not agent.active or agent.role not in SUPPORT_ROLES:
                raise RuleViolationError(f"agent {agent_id} is not an active support agent")
            conversation.assign(agent.id, agent.name, occurred_at=occurred_at, actor=actor.as_dict())
        return self._written(conversation, conversation)

    @retried_on_conflict
    def classify_conversation(
        self, conversation_id: UUID, kind: Kind, actor: Actor, expected_version: int | None = None
    ) -> Written[Conversation]:
        """Set the kind by hand; it is never overwritten automatically afterwards."""
        conversation = self._conversation(conversation_id, expected_version)
        conversation.classify_as(kind, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(conversation, conversation)

    @retried_on_conflict
    def change_priority(
        self, conversation_id: UUID, priority: Priority, actor: Actor, expected_version: int | None = None
    ) -> Written[Conversation]:
        """Set the priority by hand."""
        conversation = self._conversation(conversation_id, expected_version)
        conversation.change_priority(priority, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(conversation, conversation)

    @retried_on_conflict
    def escalate_conversation(
        self, conversation_id: UUID, reason: str, actor: Actor, expected_version: int | None = None
    ) -> Written[Conversation]:
        """Flag the conversation for a senior look, with the reason."""
        conversation = self._conversation(conversation_id, expected_version)
        conversation.escalate(reason, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(conversation, conversation)

    @retried_on_conflict
    def resolve_conversation(
        self, conversation_id: UUID, actor: Actor, expected_version: int | None = None
    ) -> Written[Conversation]:
        """Mark the customer's matter as resolved."""
        conversation = self._conversation(conversation_id, expected_version)
        conversation.resolve(occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(conversation, conversation)

    @retried_on_conflict
    def reopen_conversation(
        self, conversation_id: UUID, actor: Actor, expected_version: int | None = None
    ) -> Written[Conversation]:
        """Reopen a resolved conversation by hand."""
        conversation = self._conversation(conversation_id, expected_version)
        conversation.reopen(occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(conversation, conversation)

    @retried_on_conflict
    def rate_satisfaction(
        self, conversation_id: UUID, rating: int, comment: str | None, expected_version: int | None = None
    ) -> Written[Conversation]:
        """Record the customer's CSAT (1–5) for the current resolution."""
        conversation = self._conversation(conversation_id, expected_version)
        self._survivor(conversation.customer_id)
        conversation.rate_satisfaction(
            rating,
            comment,
            occurred_at=self._at(None),
            actor=Actor.customer(conversation.customer_id).as_dict(),
        )
        return self._written(conversation, conversation)

    @retried_on_conflict
    def retract_message(
        self,
        conversation_id: UUID,
        message_id: UUID,
        reason: str,
        actor: Actor,
        expected_version: int | None = None,
    ) -> Written[Conversation]:
        """Retract a message with a reason; the original stays in history."""
        conversation = self._conversation(conversation_id, expected_version)
        conversation.retract_message(message_id, reason, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(conversation, conversation)

    @retried_on_conflict
    def ingest_messages(self, messages: list[ChannelMessage], actor: Actor) -> Ingested:
        """Record channel messages, finding or creating customers and threading conversations by
        reply chain (domain/ingest.py); all in one transaction."""
        if len(messages) > MAX_BATCH:
            raise RuleViolationError(f"a batch holds at most {MAX_BATCH} messages")
        batch = IngestBatch(self, actor)
        outcomes: dict[int, Outcome] = {}
        with self.keyring.cached():
            for index in in_occurred_order(messages):
                outcomes[index] = batch.ingest(messages[index])
            self.keyring.prepare(batch.new_customer_ids())  # their keys in one go, not one by one
            recordings = self.save(*batch.changed())
        self.keyring.destroy(batch.spent_keys)  # held copies of replies now recorded in their conversations
        position = recordings[-1].notification.id if recordings else None
        return Ingested([outcomes[index] for index in range(len(messages))], position)

    # ---- contributions --------------------------------------------------------------------------

    def get_contribution(self, contribution_id: UUID) -> Contribution:
        return self._get(Contribution, contribution_id, ContributionNotFoundError)

    def _contribution(self, contribution_id: UUID, expected_version: int | None) -> Contribution:
        contribution = self.get_contribution(contribution_id)
        self._check_version(contribution, expected_version)
        self._check_not_forgotten(contribution.customer_id)
        return contribution

    @retried_on_conflict
    def submit_contribution(
        self,
        customer_id: UUID,
        kind: ContributionKind,
        title: str,
        body: str,
        rating: int | None,
        referred_handle: str | None,
        actor: Actor,
        occurred_at: datetime | None = None,
    ) -> Written[Contribution]:
        """Record an idea, review, answer, referral, content or beta feedback from a customer."""
        Contribution.check_fields(kind, rating, referred_handle)
        self._active_customer(customer_id)
        dossier = self._dossier(customer_id)
        contribution = Contribution.submit(
            customer_id=customer_id,
            kind=kind,
            title=title,
            body=body,
            rating=rating,
            referred_handle=referred_handle,
            occurred_at=self._at(occurred_at),
            actor=actor.as_dict(),
        )
        dossier.file_contribution(contribution.id)
        return self._written(contribution, contribution, dossier)

    @retried_on_conflict
    def endorse_contribution(
        self, contribution_id: UUID, customer_id: UUID, actor: Actor, expected_version: int | None = None
    ) -> Written[Contribution]:
        """Another customer's vote for a contribution (one each, never the author's)."""
        contribution = self._contribution(contribution_id, expected_version)
        self._active_customer(customer_id)
        contribution.endorse(customer_id, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(contribution, contribution)

    @retried_on_conflict
    def change_contribution_status(
        self,
        contribution_id: UUID,
        status: ContributionStatus,
        note: str | None,
        actor: Actor,
        expected_version: int | None = None,
    ) -> Written[Contribution]:
        """Move a contribution along submitted → under_review → accepted → implemented, or decline it."""
        contribution = self._contribution(contribution_id, expected_version)
        contribution.change_status(status, note, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(contribution, contribution)

    @retried_on_conflict
    def reward_contribution(
        self, contribution_id: UUID, description: str, actor: Actor, expected_version: int | None = None
    ) -> Written[Contribution]:
        """Recognise a contribution (a thank-you, a badge, a gift)."""
        contribution = self._contribution(contribution_id, expected_version)
        contribution.reward(description, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(contribution, contribution)

    @retried_on_conflict
    def convert_referral(
        self, contribution_id: UUID, new_customer_id: UUID, actor: Actor, expected_version: int | None = None
    ) -> Written[Contribution]:
        """Record that a referral became a customer."""
        contribution = self._contribution(contribution_id, expected_version)
        self.get_customer(new_customer_id)
        contribution.convert_referral(new_customer_id, occurred_at=self._at(None), actor=actor.as_dict())
        return self._written(contribution, contribution)

    # ---- agents ---------------------------------------------------------------------------------

    def get_agent(self, agent_id: UUID) -> Agent:
        return self._get(Agent, agent_id, AgentNotFoundError)

    def list_agents(self) -> list[Agent]:
        """Every agent ever registered, active or not, oldest first."""
        roster: AgentRoster | None = self._find(AgentRoster.ID)
        return [self.get_agent(agent_id) for agent_id in roster.agent_ids] if roster else []

    def _new_agent(self, name: str, role: Role, token: str, roster: AgentRoster) -> tuple[Agent, TokenReference]:
        token_hash = hash_token(token)
        agent = Agent(name=name, role=role, token_hash=token_hash, occurred_at=self._at(None))
        roster.enrol(agent.id)
        return agent, TokenReference(id=TokenReference.id_for(token_hash), agent_id=agent.id)

    @retried_on_conflict
    def register_agent(self, name: str, role: Role) -> tuple[Written[Agent], str]:
        """Create an agent; the token is returned here and never again (only its hash is kept)."""
        roster: AgentRoster = self._find(AgentRoster.ID) or AgentRoster(id=AgentRoster.ID)
        token = new_token()
        agent, reference = self._new_agent(name, role, token, roster)
        return self._written(agent, agent, reference, roster), token

    def bootstrap_admin(self, token: str | None = None) -> str | None:
        """On an empty store, create the first admin; return its token, or None when not empty."""
        if self._find(AgentRoster.ID) is not None:
            return None
        token = token or new_token()
        roster = AgentRoster(id=AgentRoster.ID)
        agent, reference = self._new_agent("admin", "admin", token, roster)
        try:
            self.save(roster, agent, reference)
        except IntegrityError:
            return None  # another process bootstrapped the same store at the same moment
        return token

    def authenticate(self, token: str) -> Agent:
        """The active agent holding this token, or AuthenticationError."""
        reference: TokenReference | None = self._find(TokenReference.id_for(hash_token(token)))
        agent = self._find(reference.agent_id) if reference else None
        if not isinstance(agent, Agent) or not agent.holds_token(token):
            raise AuthenticationError("unknown or revoked token")
        return agent

    @retried_on_conflict
    def rotate_agent_token(self, agent_id: UUID, expected_version: int | None = None) -> tuple[Written[Agent], str]:
        """Issue a new token; the old one stops working at once."""
        agent = self.get_agent(agent_id)
        self._check_version(agent, expected_version)
        token = new_token()
        token_hash = hash_token(token)
        agent.rotate_token(token_hash, occurred_at=self._at(None))
        reference = TokenReference(id=TokenReference.id_for(token_hash), agent_id=agent.id)
        return self._written(agent, agent, reference), token

    @retried_on_conflict
    def deactivate_agent(self, agent_id: UUID, actor: Actor, expected_version: int | None = None) -> Written[Agent]:
        """Revoke an agent's access; their history keeps their name."""
        if actor.id == agent_id:
            raise RuleViolationError("agents cannot deactivate themselves")
        agent = self.get_agent(agent_id)
        self._check_version(agent, expected_version)
        agent.deactivate(occurred_at=self._at(None))
        return self._written(agent, agent)
