"""Integration events: the stable, documented face of the event log for other systems.

The event feed (`GET /v1/events`) and the webhooks publish these, never the internal event
classes. One table, PUBLISHED, maps each internal event class that means something outside to an
integration type, the version of its payload schema and the function that builds the payload;
INTERNAL lists the classes that are deliberately not published. An integration event's id is the
position of its internal event in the log, so a client pages with `after=<id>` and deduplicates
on the id; positions of unpublished events are passed over, never returned.

Personal texts are decoded as they read now: "[forgotten]" once the customer was forgotten.
An item is encoded once, by `encode`, so the feed and every webhook delivery send the same bytes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic

from domain.application import CustomerRelations
from domain.contribution import Contribution
from domain.conversation import Conversation
from domain.customer import Customer
from domain.personal_data import PersonalText

Payload = dict[str, Any]


class Owners:
    """Which customer a conversation or contribution belongs to, for the events that do not say.

    It never changes, so it is learnt from each record's first event (from the page being read
    when it is there, else with one look-up) and kept, ids only, for the life of the reader.
    """

    LIMIT = 50_000

    def __init__(self, application: CustomerRelations) -> None:
        self.application = application
        self._known: OrderedDict[UUID, UUID] = OrderedDict()
        self._lock = threading.Lock()  # a delivery worker reads on several threads

    def learn(self, record_id: UUID, customer_id: UUID) -> None:
        with self._lock:
            self._known[record_id] = customer_id
            self._known.move_to_end(record_id)
            if len(self._known) > self.LIMIT:
                self._known.popitem(last=False)

    def customer_of(self, record_id: UUID) -> UUID:
        with self._lock:
            customer_id = self._known.get(record_id)
        if customer_id is None:
            first = self.application.recorder.select_events(record_id, lte=1, limit=1)
            started: Any = self.application.mapper.to_domain_event(first[0])
            customer_id = started.customer_id
            assert isinstance(customer_id, UUID)
            self.learn(record_id, customer_id)
        return customer_id


Builder = Callable[[Any, Owners], Payload]


@dataclass(frozen=True)
class IntegrationType:
    """An integration event type: its name, the version of its payload schema, and how an
    internal event becomes its payload."""

    name: str
    version: int
    build: Builder
    summary: str


def _text(value: PersonalText | None) -> str | None:
    return None if value is None else value.value


def _id(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _conversation(event: Any, owners: Owners) -> Payload:
    conversation_id = event.originator_id
    return {"conversation_id": str(conversation_id), "customer_id": str(owners.customer_of(conversation_id))}


def _contribution(event: Any, owners: Owners) -> Payload:
    contribution_id = event.originator_id
    return {"contribution_id": str(contribution_id), "customer_id": str(owners.customer_of(contribution_id))}


def _customer(event: Any) -> Payload:
    return {"customer_id": str(event.originator_id)}


def _started(event: Any, owners: Owners) -> Payload:
    owners.learn(event.originator_id, event.customer_id)
    return {
        **_conversation(event, owners),
        "channel": event.channel,
        "subject": _text(event.subject),
        "visibility": event.visibility,
    }


def _submitted(event: Any, owners: Owners) -> Payload:
    owners.learn(event.originator_id, event.customer_id)
    return {
        **_contribution(event, owners),
        "kind": event.kind,
        "title": _text(event.title),
        "body": _text(event.body),
        "rating": event.rating,
        "referred_handle": _text(event.referred_handle),
    }


def _profile_changes(changes: Mapping[str, Any]) -> Payload:
    return {field: _text(value) if isinstance(value, PersonalText) else value for field, value in changes.items()}


def _sentiment(sentiment: Mapping[str, Any]) -> Payload:
    return {"compound": sentiment["compound"], "analyser": sentiment["analyser"], "version": sentiment["version"]}


def _agent(actor: Mapping[str, Any]) -> Payload:
    return {"id": actor.get("id"), "name": actor.get("name")}


# The published types, keyed by the internal event's class (qualified name, as the timeline does).
# Changing what a type's payload holds is a new version of that type; never rename a type.
PUBLISHED: dict[str, IntegrationType] = {
    "Customer.Registered": IntegrationType(
        "customer.registered",
        1,
        lambda e, o: {
            **_customer(e),
            "name": _text(e.name),
            "email": _text(e.email),
            "locale": e.locale,
            "identities": [{"channel": i["channel"], "handle": _text(i["handle"])} for i in e.identities],
        },
        "A customer was registered.",
    ),
    "Customer.ProfileUpdated": IntegrationType(
        "customer.updated",
        1,
        lambda e, o: {**_customer(e), "changes": _profile_changes(e.changes)},
        "A customer's name, e-mail or locale changed; `changes` holds only the fields that changed.",
    ),
    "Customer.IdentityLinked": IntegrationType(
        "customer.identity_linked",
        1,
        lambda e, o: {**_customer(e), "channel": e.channel, "handle": _text(e.handle)},
        "A channel identity was added to a customer.",
    ),
    "Customer.IdentityUnlinked": IntegrationType(
        "customer.identity_unlinked",
        1,
        lambda e, o: {**_customer(e), "channel": e.channel, "handle": _text(e.handle)},
        "A channel identity was removed from a customer.",
    ),
    "Customer.Tagged": IntegrationType(
        "customer.tagged", 1, lambda e, o: {**_customer(e), "tag": e.tag}, "A customer was tagged."
    ),
    "Customer.Untagged": IntegrationType(
        "customer.untagged", 1, lambda e, o: {**_customer(e), "tag": e.tag}, "A tag was removed from a customer."
    ),
    "Customer.MarketingConsentGiven": IntegrationType(
        "customer.consent_changed",
        1,
        lambda e, o: {**_customer(e), "marketing_consent": True, "source": e.source},
        "A customer gave or withdrew marketing consent.",
    ),
    "Customer.MarketingConsentWithdrawn": IntegrationType(
        "customer.consent_changed",
        1,
        lambda e, o: {**_customer(e), "marketing_consent": False, "source": e.source},
        "A customer gave or withdrew marketing consent.",
    ),
    "Customer.NpsGiven": IntegrationType(
        "nps.given",
        1,
        lambda e, o: {**_customer(e), "score": e.score, "comment": _text(e.comment)},
        "A customer answered the NPS question (0–10).",
    ),
    "Customer.MergedInto": IntegrationType(
        "customer.merged",
        1,
        lambda e, o: {**_customer(e), "survivor_id": str(e.survivor_id)},
        "A duplicate customer (`customer_id`) was merged into another (`survivor_id`); it keeps its history.",
    ),
    "Customer.Forgotten": IntegrationType(
        "customer.forgotten",
        1,
        lambda e, o: _customer(e),
        "A customer's personal data was erased: erase your copies; their texts now read “[forgotten]”.",
    ),
    "Conversation.Started": IntegrationType("conversation.started", 1, _started, "A conversation was started."),
    "Conversation.MergedInto": IntegrationType(
        "conversation.merged",
        1,
        lambda e, o: {**_conversation(e, o), "survivor_id": str(e.survivor_id)},
        "A conversation (`conversation_id`) turned out to continue another (`survivor_id`), which took in its"
        " messages: from now on it lives on as that one.",
    ),
    "Conversation.MessageReceived": IntegrationType(
        "message.received",
        1,
        lambda e, o: {
            **_conversation(e, o),
            "message_id": str(e.message_id),
            "text": _text(e.text),
            "external_id": e.external_id,
            "sentiment": _sentiment(e.sentiment),
        },
        "The customer wrote (inbound), with the sentiment scored when it was recorded.",
    ),
    "Conversation.ReplySent": IntegrationType(
        "reply.sent",
        1,
        lambda e, o: {
            **_conversation(e, o),
            "message_id": str(e.message_id),
            "text": _text(e.text),
            "external_id": e.external_id,
            "author": _agent(e.actor),
        },
        "An agent replied (outbound), signed with their name.",
    ),
    "Conversation.MessageRetracted": IntegrationType(
        "message.retracted",
        1,
        lambda e, o: {**_conversation(e, o), "message_id": str(e.message_id), "reason": _text(e.reason)},
        "A message was retracted, with the reason; it stays in the history.",
    ),
    "Conversation.Classified": IntegrationType(
        "conversation.classified",
        1,
        lambda e, o: {**_conversation(e, o), "kind": e.kind, "source": e.source},
        "A conversation was classified (question, complaint, praise, idea, mention, other).",
    ),
    "Conversation.PriorityChanged": IntegrationType(
        "conversation.priority_changed",
        1,
        lambda e, o: {**_conversation(e, o), "priority": e.priority, "source": e.source},
        "A conversation's priority changed.",
    ),
    "Conversation.Assigned": IntegrationType(
        "conversation.assigned",
        1,
        lambda e, o: {**_conversation(e, o), "assignee": {"id": str(e.agent_id), "name": e.agent_name}},
        "A conversation was given to an agent.",
    ),
    "Conversation.Unassigned": IntegrationType(
        "conversation.unassigned", 1, _conversation, "A conversation was taken from its agent."
    ),
    "Conversation.Escalated": IntegrationType(
        "conversation.escalated",
        1,
        lambda e, o: {**_conversation(e, o), "reason": _text(e.reason)},
        "A conversation was escalated, with the reason.",
    ),
    "Conversation.Resolved": IntegrationType("conversation.resolved", 1, _conversation, "A conversation was resolved."),
    "Conversation.Reopened": IntegrationType(
        "conversation.reopened",
        1,
        lambda e, o: {**_conversation(e, o), "automatic": e.automatic},
        "A resolved conversation was reopened: by an agent, or automatically by a new message.",
    ),
    "Conversation.SatisfactionRated": IntegrationType(
        "csat.rated",
        1,
        lambda e, o: {**_conversation(e, o), "rating": e.rating, "comment": _text(e.comment)},
        "The customer rated a resolution (CSAT 1–5).",
    ),
    "Contribution.Submitted": IntegrationType(
        "contribution.submitted", 1, _submitted, "A customer contributed an idea, review, answer, referral, …"
    ),
    "Contribution.Endorsed": IntegrationType(
        "contribution.endorsed",
        1,
        lambda e, o: {**_contribution(e, o), "endorser_id": str(e.customer_id)},
        "Another customer endorsed a contribution.",
    ),
    "Contribution.StatusChanged": IntegrationType(
        "contribution.status_changed",
        1,
        lambda e, o: {**_contribution(e, o), "status": e.status, "previous": e.previous, "note": _text(e.note)},
        "A contribution moved on (submitted → under_review → accepted → implemented, or declined).",
    ),
    "Contribution.Rewarded": IntegrationType(
        "contribution.rewarded",
        1,
        lambda e, o: {**_contribution(e, o), "description": _text(e.description)},
        "A contribution was recognised.",
    ),
    "Contribution.ReferralConverted": IntegrationType(
        "contribution.referral_converted",
        1,
        lambda e, o: {**_contribution(e, o), "new_customer_id": str(e.new_customer_id)},
        "A referral became a customer.",
    ),
}

# Internal events deliberately not published (their positions are passed over):
INTERNAL = frozenset(
    {
        "Customer.DuplicateAbsorbed",  # the survivor's side of a merge: `customer.merged` tells it once
        "Conversation.NoteAdded",  # internal notes are for the support team only
        "Conversation.Absorbed",  # the survivor's side of a conversation merge: `conversation.merged` tells it
        # agents and their tokens
        "Agent.Registered",
        "Agent.TokenRotated",
        "Agent.Deactivated",
        # index aggregates that keep identities, message ids and tokens unique
        "IdentityClaim.Claimed",
        "IdentityClaim.ClaimedAgain",
        "IdentityClaim.Released",
        "MessageReference.Registered",
        "TokenReference.Issued",
        "AgentRoster.Opened",
        "AgentRoster.Enrolled",
        "Dossier.Opened",
        "Dossier.ConversationFiled",
        "Dossier.ContributionFiled",
        # what ingest holds for a channel message that was replied to before it arrived
        "AwaitedMessage.Opened",
        "AwaitedMessage.Awaited",
        "AwaitedMessage.ReplyHeld",
        "AwaitedMessage.Arrived",
    }
)

TYPES: tuple[str, ...] = tuple(dict.fromkeys(t.name for t in PUBLISHED.values()))
_AGGREGATES: dict[str, type[Any]] = {"Customer": Customer, "Conversation": Conversation, "Contribution": Contribution}


def _topic(qualname: str) -> str:
    aggregate, event_class = qualname.split(".")
    return get_topic(getattr(_AGGREGATES[aggregate], event_class))


TOPICS: dict[str, tuple[str, ...]] = {
    name: tuple(_topic(qualname) for qualname, t in PUBLISHED.items() if t.name == name) for name in TYPES
}


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class IntegrationEvent:
    """One encoded integration event: what the feed lists and a webhook delivery sends."""

    id: int
    type: str
    body: bytes


@dataclass(frozen=True)
class FeedPage:
    """Integration events after a position, and the position to ask from next.

    Every position in (after, next_after] is either in `items` or an internal event passed over.
    """

    items: list[IntegrationEvent]
    next_after: int
    has_more: bool


def encode(position: int, event: Any, owners: Owners) -> IntegrationEvent:
    """An internal event as its integration event, encoded once: compact JSON, keys in this order."""
    published = PUBLISHED[type(event).__qualname__]
    item = {
        "id": position,
        "type": published.name,
        "version": published.version,
        "occurred_at": _time(event.occurred_at),
        "recorded_at": _time(event.timestamp),
        "actor": {"kind": event.actor["kind"], "id": event.actor.get("id"), "name": event.actor.get("name")},
        "payload": published.build(event, owners),
    }
    return IntegrationEvent(position, published.name, orjson.dumps(item))


class IntegrationFeed:
    """Reads integration events from the application's event log, by position."""

    def __init__(self, application: CustomerRelations) -> None:
        self.application = application
        self.owners = Owners(application)

    @staticmethod
    def topics(types: Collection[str] = ()) -> tuple[str, ...]:
        """The stored topics of the internal events behind these types (all published ones for none)."""
        return tuple(topic for name in (types or TYPES) for topic in TOPICS[name])

    def read(self, after: int, limit: int, types: Collection[str] = ()) -> FeedPage:
        """Up to `limit` integration events (of these types, or of all) after a position."""
        # The head is read first and bounds the select: everything up to it has committed (both
        # stores commit positions in order), so passing over to it never skips a late event.
        head = self.application.head_position
        if after >= head:
            return FeedPage([], after, False)
        notifications = self.application.recorder.select_notifications(
            start=after + 1, limit=limit, stop=head, topics=self.topics(types)
        )
        items = self._encoded(notifications)
        if len(notifications) < limit:
            return FeedPage(items, head, False)
        last = notifications[-1].id
        return FeedPage(items, last, last < head)

    def event(self, position: int) -> IntegrationEvent | None:
        """The integration event at a position, as it reads now; None when that one is internal."""
        notifications = self.application.recorder.select_notifications(
            start=position, limit=1, stop=position, topics=self.topics()
        )
        items = self._encoded(notifications)
        return items[0] if items else None

    def _encoded(self, notifications: Sequence[Any]) -> list[IntegrationEvent]:
        with self.application.keyring.cached():
            return [encode(n.id, self.application.mapper.to_domain_event(n), self.owners) for n in notifications]
