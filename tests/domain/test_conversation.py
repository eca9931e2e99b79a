"""The Conversation aggregate on its own: messages, triage, status, satisfaction and retraction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.conversation import Conversation
from domain.errors import ConflictError, IllegalTransitionError, MessageNotFoundError, RuleViolationError
from domain.personal_data import PersonalText
from domain.sentiment import Sentiment

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AGENT: dict[str, Any] = {"kind": "agent", "id": str(uuid4()), "name": "Ann Agent"}
SUPERVISOR: dict[str, Any] = {"kind": "agent", "id": str(uuid4()), "name": "Sam Supervisor"}
CUSTOMER: dict[str, Any] = {"kind": "customer", "id": str(uuid4()), "name": None}


def sentiment(compound: float) -> Sentiment:
    return {"compound": compound, "analyser": "vaderSentiment", "version": "3.3.2"}


NEUTRAL = sentiment(0.0)


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def event_names(aggregate: Any) -> list[str]:
    return [type(e).__qualname__ for e in aggregate.collect_events()]


def new_conversation() -> Conversation:
    """A started conversation whose Started event was already collected (as if saved)."""
    conversation = Conversation.start(uuid4(), "twitter", "Order 1234", "public", NOW, AGENT)
    conversation.collect_events()
    return conversation


def receive(
    conversation: Conversation,
    text: str = "Hello",
    compound: float = 0.0,
    minutes: int = 1,
    external_id: str | None = None,
) -> UUID:
    message_id = uuid4()
    conversation.receive_message(message_id, text, external_id, sentiment(compound), at(minutes), CUSTOMER)
    return message_id


def reply(conversation: Conversation, text: str = "We are on it", minutes: int = 2) -> UUID:
    message_id = uuid4()
    conversation.send_reply(message_id, text, None, at(minutes), AGENT)
    return message_id


def resolved_conversation() -> Conversation:
    conversation = new_conversation()
    receive(conversation, minutes=1)
    reply(conversation, minutes=2)
    conversation.resolve(at(3), AGENT)
    conversation.collect_events()
    return conversation


# ---- starting -----------------------------------------------------------------------------------


def test_a_new_conversation_is_open_medium_and_unclassified() -> None:
    customer_id = uuid4()
    conversation = Conversation.start(customer_id, "email", None, "private", NOW, AGENT)

    assert event_names(conversation) == ["Conversation.Started"]
    assert conversation.customer_id == customer_id
    assert conversation.channel == "email"
    assert conversation.visibility == "private"
    assert conversation.status == "open"
    assert conversation.priority == "medium"
    assert conversation.kind is None
    assert conversation.messages == []
    assert conversation.first_inbound_at is None
    assert conversation.last_activity_at == NOW


# ---- automatic classification -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "compound", "kind", "priority"),
    [
        ("This is the worst service ever", -0.6, "complaint", "high"),
        ("Why is my parcel late again?!", -0.35, "complaint", "high"),
        ("Where is my parcel?", -0.2, "question", "medium"),
        ("I love it, can I buy two?", 0.9, "question", "medium"),
        ("You are wonderful, thank you", 0.5, "praise", "medium"),
        ("My address changed", 0.1, "other", "medium"),
        ("Slightly disappointed", -0.34, "other", "medium"),
    ],
)
def test_the_first_inbound_message_classifies_the_conversation(
    text: str, compound: float, kind: str, priority: str
) -> None:
    conversation = new_conversation()

    receive(conversation, text, compound)

    assert conversation.kind == kind
    assert conversation.kind_source == "automatic"
    assert conversation.priority == priority


def test_complaints_start_with_high_priority() -> None:
    conversation = new_conversation()

    receive(conversation, "Terrible, I want my money back", -0.8)

    events = conversation.collect_events()
    assert [type(e).__qualname__ for e in events] == [
        "Conversation.MessageReceived",
        "Conversation.Classified",
        "Conversation.PriorityChanged",
    ]
    assert (events[1].kind, events[1].source) == ("complaint", "automatic")
    assert (events[2].priority, events[2].source) == ("high", "automatic")
    assert conversation.priority_source == "automatic"


def test_a_conversation_that_is_no_complaint_keeps_medium_priority_without_a_priority_event() -> None:
    conversation = new_conversation()

    receive(conversation, "Where is my parcel?", 0.0)

    assert event_names(conversation) == ["Conversation.MessageReceived", "Conversation.Classified"]
    assert conversation.priority == "medium"


def test_the_message_keeps_its_text_sentiment_and_author() -> None:
    conversation = new_conversation()

    message_id = receive(conversation, "Where is my parcel?", -0.1, minutes=5, external_id="tw-1")

    assert conversation.message(message_id) == {
        "id": message_id,
        "direction": "inbound",
        "text": "Where is my parcel?",
        "external_id": "tw-1",
        "occurred_at": at(5),
        "sentiment": sentiment(-0.1),
        "author": CUSTOMER,
        "retraction": None,
    }
    assert conversation.first_inbound_at == at(5)
    assert conversation.last_activity_at == at(5)


def test_only_the_first_inbound_message_classifies() -> None:
    conversation = new_conversation()
    receive(conversation, "Where is my parcel?", 0.0, minutes=1)
    conversation.collect_events()

    receive(conversation, "This is outrageous, worst shop ever", -0.9, minutes=2)

    assert event_names(conversation) == ["Conversation.MessageReceived"]
    assert conversation.kind == "question"
    assert conversation.priority == "medium"


def test_an_agents_classification_before_the_first_message_is_not_overwritten() -> None:
    conversation = new_conversation()
    conversation.classify_as("idea", at(0), AGENT)
    conversation.collect_events()

    receive(conversation, "Terrible, I want my money back", -0.8)

    assert event_names(conversation) == ["Conversation.MessageReceived"]
    assert conversation.kind == "idea"
    assert conversation.kind_source == "agent"
    assert conversation.priority == "medium"


def test_an_agents_classification_replaces_the_automatic_one() -> None:
    conversation = new_conversation()
    receive(conversation, "Where is my parcel?", 0.0)
    conversation.collect_events()

    conversation.classify_as("mention", at(2), AGENT)

    events = conversation.collect_events()
    assert [type(e).__qualname__ for e in events] == ["Conversation.Classified"]
    assert (events[0].kind, events[0].source, events[0].actor) == ("mention", "agent", AGENT)
    assert (conversation.kind, conversation.kind_source) == ("mention", "agent")


def test_an_agent_confirming_the_automatic_kind_takes_it_over() -> None:
    conversation = new_conversation()
    receive(conversation, "Where is my parcel?", 0.0)
    conversation.collect_events()

    conversation.classify_as("question", at(2), AGENT)

    assert event_names(conversation) == ["Conversation.Classified"]
    assert conversation.kind_source == "agent"


def test_an_agent_repeating_their_own_classification_records_nothing() -> None:
    conversation = new_conversation()
    conversation.classify_as("praise", at(1), AGENT)
    conversation.collect_events()

    conversation.classify_as("praise", at(2), SUPERVISOR)

    assert event_names(conversation) == []


def test_an_agent_classifying_a_complaint_raises_the_priority_to_high() -> None:
    conversation = new_conversation()
    receive(conversation, "Where is my parcel?", 0.0)
    conversation.collect_events()

    conversation.classify_as("complaint", at(2), AGENT)

    assert event_names(conversation) == ["Conversation.Classified", "Conversation.PriorityChanged"]
    assert conversation.priority == "high"


def test_an_agents_priority_is_not_overwritten_by_an_automatic_complaint() -> None:
    conversation = new_conversation()
    conversation.change_priority("low", at(0), AGENT)
    conversation.collect_events()

    receive(conversation, "Terrible, I want my money back", -0.8)

    assert event_names(conversation) == ["Conversation.MessageReceived", "Conversation.Classified"]
    assert conversation.kind == "complaint"
    assert (conversation.priority, conversation.priority_source) == ("low", "agent")


def test_an_agents_priority_is_not_overwritten_by_an_agents_classification() -> None:
    conversation = new_conversation()
    conversation.change_priority("urgent", at(0), AGENT)
    conversation.collect_events()

    conversation.classify_as("complaint", at(1), AGENT)

    assert event_names(conversation) == ["Conversation.Classified"]
    assert conversation.priority == "urgent"


def test_an_agent_setting_the_priority_they_already_set_records_nothing() -> None:
    conversation = new_conversation()
    conversation.change_priority("urgent", at(0), AGENT)
    conversation.collect_events()

    conversation.change_priority("urgent", at(1), AGENT)

    assert event_names(conversation) == []


def test_an_agent_setting_the_automatic_priority_takes_it_over() -> None:
    conversation = new_conversation()

    conversation.change_priority("medium", at(0), AGENT)

    events = conversation.collect_events()
    assert [(type(e).__qualname__, e.priority, e.source) for e in events] == [
        ("Conversation.PriorityChanged", "medium", "agent")
    ]
    assert conversation.priority_source == "agent"


# ---- status -------------------------------------------------------------------------------------


def test_status_goes_from_open_to_pending_on_a_reply_and_then_to_resolved() -> None:
    conversation = new_conversation()
    receive(conversation, minutes=1)
    assert conversation.status == "open"

    reply(conversation, minutes=20)
    assert conversation.status == "pending"
    assert conversation.first_reply_at == at(20)

    conversation.resolve(at(30), AGENT)
    assert conversation.status == "resolved"
    assert conversation.resolved_at == at(30)
    assert event_names(conversation)[-2:] == ["Conversation.ReplySent", "Conversation.Resolved"]


def test_a_customer_message_while_pending_makes_the_conversation_open_again() -> None:
    conversation = new_conversation()
    receive(conversation, minutes=1)
    reply(conversation, minutes=2)

    receive(conversation, "Still not there", minutes=3)

    assert conversation.status == "open"


def test_an_inbound_message_after_resolution_reopens_the_conversation_automatically() -> None:
    conversation = resolved_conversation()

    receive(conversation, "It broke again", minutes=60)

    events = conversation.collect_events()
    assert [type(e).__qualname__ for e in events] == ["Conversation.Reopened", "Conversation.MessageReceived"]
    assert events[0].automatic is True
    assert events[0].occurred_at == at(60)
    assert conversation.status == "open"
    assert conversation.resolved_at is None
    assert conversation.kind == "other"  # not classified again


def test_replying_to_a_resolved_conversation_is_a_conflict() -> None:
    conversation = resolved_conversation()

    with pytest.raises(ConflictError):
        reply(conversation, minutes=60)

    assert event_names(conversation) == []
    assert len(conversation.messages) == 2


def test_escalating_a_resolved_conversation_is_a_conflict() -> None:
    conversation = resolved_conversation()

    with pytest.raises(ConflictError):
        conversation.escalate("angry on the phone", at(60), AGENT)

    assert event_names(conversation) == []
    assert conversation.escalation is None


def test_escalation_records_the_reason_and_who_escalated() -> None:
    conversation = new_conversation()

    conversation.escalate("legal threat", at(5), AGENT)

    assert event_names(conversation) == ["Conversation.Escalated"]
    assert conversation.escalation == {"reason": "legal threat", "occurred_at": at(5), "actor": AGENT}


def test_resolving_a_resolved_conversation_is_an_illegal_transition() -> None:
    conversation = resolved_conversation()

    with pytest.raises(IllegalTransitionError):
        conversation.resolve(at(60), AGENT)

    assert conversation.resolved_at == at(3)


def test_only_a_resolved_conversation_can_be_reopened_by_hand() -> None:
    conversation = new_conversation()

    with pytest.raises(IllegalTransitionError):
        conversation.reopen(at(1), AGENT)

    assert event_names(conversation) == []


def test_reopening_by_hand_is_recorded_as_not_automatic() -> None:
    conversation = resolved_conversation()

    conversation.reopen(at(60), AGENT)

    events = conversation.collect_events()
    assert [(type(e).__qualname__, e.automatic) for e in events] == [("Conversation.Reopened", False)]
    assert conversation.status == "open"


def test_a_note_does_not_change_the_status_or_the_messages() -> None:
    conversation = new_conversation()
    receive(conversation, minutes=1)
    reply(conversation, minutes=2)
    conversation.collect_events()
    note_id = uuid4()

    conversation.add_note(note_id, "customer is a journalist", at(3), AGENT)

    assert event_names(conversation) == ["Conversation.NoteAdded"]
    assert conversation.status == "pending"
    assert len(conversation.messages) == 2
    assert conversation.notes == [
        {"id": note_id, "text": "customer is a journalist", "occurred_at": at(3), "author": AGENT}
    ]


def test_the_first_inbound_and_first_reply_times_are_the_earliest_ones() -> None:
    conversation = new_conversation()
    receive(conversation, minutes=10)
    receive(conversation, minutes=5)  # imported late: it happened earlier
    reply(conversation, minutes=30)
    reply(conversation, minutes=20)

    assert conversation.first_inbound_at == at(5)
    assert conversation.first_reply_at == at(20)
    assert conversation.last_activity_at == at(30)


# ---- assignment ---------------------------------------------------------------------------------


def test_assigning_the_same_agent_twice_records_once_and_unassigning_nobody_records_nothing() -> None:
    conversation = new_conversation()
    agent_id = uuid4()

    conversation.assign(agent_id, "Ann Agent", at(1), SUPERVISOR)
    conversation.assign(agent_id, "Ann Agent", at(2), SUPERVISOR)
    assert conversation.assignee == {"id": agent_id, "name": "Ann Agent"}

    conversation.unassign(at(3), SUPERVISOR)
    conversation.unassign(at(4), SUPERVISOR)
    assert conversation.assignee is None

    assert event_names(conversation) == ["Conversation.Assigned", "Conversation.Unassigned"]


# ---- satisfaction -------------------------------------------------------------------------------


def test_satisfaction_cannot_be_rated_before_a_resolution() -> None:
    conversation = new_conversation()
    receive(conversation)
    conversation.collect_events()

    with pytest.raises(ConflictError):
        conversation.rate_satisfaction(5, None, at(5), CUSTOMER)

    assert event_names(conversation) == []
    assert conversation.csat == []


def test_satisfaction_is_rated_once_per_resolution() -> None:
    conversation = resolved_conversation()

    conversation.rate_satisfaction(2, "slow", at(10), CUSTOMER)
    with pytest.raises(ConflictError):
        conversation.rate_satisfaction(5, "actually fine", at(11), CUSTOMER)

    receive(conversation, "Broken again", minutes=20)
    conversation.resolve(at(30), AGENT)
    conversation.rate_satisfaction(4, None, at(40), CUSTOMER)

    assert [type(e).__qualname__ for e in conversation.collect_events()].count("Conversation.SatisfactionRated") == 2
    assert conversation.csat == [
        {"rating": 2, "comment": "slow", "occurred_at": at(10)},
        {"rating": 4, "comment": None, "occurred_at": at(40)},
    ]


def test_satisfaction_cannot_be_rated_after_the_conversation_was_reopened() -> None:
    conversation = resolved_conversation()
    conversation.reopen(at(10), AGENT)

    with pytest.raises(ConflictError):
        conversation.rate_satisfaction(3, None, at(11), CUSTOMER)


@pytest.mark.parametrize("rating", [1, 5])
def test_a_rating_from_1_to_5_is_accepted(rating: int) -> None:
    conversation = resolved_conversation()

    conversation.rate_satisfaction(rating, None, at(10), CUSTOMER)

    assert event_names(conversation) == ["Conversation.SatisfactionRated"]
    assert conversation.csat[-1]["rating"] == rating


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_a_rating_outside_1_to_5_is_refused(rating: int) -> None:
    conversation = resolved_conversation()

    with pytest.raises(RuleViolationError):
        conversation.rate_satisfaction(rating, None, at(10), CUSTOMER)

    assert event_names(conversation) == []
    assert conversation.rated_current_resolution is False


# ---- retraction ---------------------------------------------------------------------------------


def test_a_retracted_message_stays_with_who_retracted_it_and_why() -> None:
    conversation = new_conversation()
    message_id = receive(conversation, "My card number is 4111 1111 1111 1111", minutes=1)
    conversation.collect_events()

    conversation.retract_message(message_id, "contains a card number", at(5), SUPERVISOR)

    events = conversation.collect_events()
    assert [type(e).__qualname__ for e in events] == ["Conversation.MessageRetracted"]
    assert (events[0].message_id, events[0].reason) == (
        message_id,
        PersonalText(conversation.customer_id, "contains a card number"),
    )
    message = conversation.message(message_id)
    assert message["text"] == "My card number is 4111 1111 1111 1111"
    assert message["retraction"] == {"reason": "contains a card number", "occurred_at": at(5), "actor": SUPERVISOR}
    assert len(conversation.messages) == 1


def test_a_reply_can_be_retracted_too() -> None:
    conversation = new_conversation()
    message_id = reply(conversation, "Wrong customer, sorry", minutes=1)

    conversation.retract_message(message_id, "sent to the wrong customer", at(2), SUPERVISOR)

    assert conversation.message(message_id)["retraction"]["reason"] == "sent to the wrong customer"


def test_retracting_a_message_twice_is_a_conflict() -> None:
    conversation = new_conversation()
    message_id = receive(conversation)
    conversation.retract_message(message_id, "spam", at(2), AGENT)
    conversation.collect_events()

    with pytest.raises(ConflictError):
        conversation.retract_message(message_id, "really spam", at(3), SUPERVISOR)

    assert event_names(conversation) == []
    assert conversation.message(message_id)["retraction"]["reason"] == "spam"


def test_retracting_an_unknown_message_raises_message_not_found() -> None:
    conversation = new_conversation()
    receive(conversation)
    conversation.collect_events()

    with pytest.raises(MessageNotFoundError):
        conversation.retract_message(uuid4(), "spam", at(2), AGENT)

    assert event_names(conversation) == []


def test_looking_up_an_unknown_message_raises_message_not_found() -> None:
    conversation = new_conversation()

    with pytest.raises(MessageNotFoundError):
        conversation.message(uuid4())


def test_replaying_the_events_rebuilds_the_same_conversation() -> None:
    conversation = Conversation.start(uuid4(), "twitter", None, "public", NOW, AGENT)
    message_id = receive(conversation, "Awful!", -0.7, minutes=1)
    reply(conversation, minutes=2)
    conversation.assign(uuid4(), "Ann Agent", at(3), SUPERVISOR)
    conversation.retract_message(message_id, "abusive", at(4), SUPERVISOR)
    conversation.resolve(at(5), AGENT)
    conversation.rate_satisfaction(3, None, at(6), CUSTOMER)

    rebuilt: Any = None
    for recorded in conversation.collect_events():
        rebuilt = recorded.mutate(rebuilt)

    assert rebuilt.__dict__ == conversation.__dict__
