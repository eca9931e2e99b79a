"""The aggregates on their own: the events they record and the invariants they keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.agent import Agent, hash_token
from domain.classification import classify
from domain.contribution import CONTRIBUTION_STATUSES, TRANSITIONS, Contribution
from domain.conversation import Conversation
from domain.customer import Customer
from domain.errors import (
    ConflictError,
    CustomerInactiveError,
    DuplicateEndorsementError,
    IllegalTransitionError,
    MessageNotFoundError,
    RuleViolationError,
)
from domain.sentiment import Sentiment
from domain.targets import ResponseTargets

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
ACTOR: dict[str, Any] = {"kind": "agent", "id": None, "name": "Ann"}


def sentiment(compound: float) -> Sentiment:
    return {"compound": compound, "analyser": "vaderSentiment", "version": "3.3.2"}


def event_names(aggregate: Any) -> list[str]:
    return [type(event).__qualname__ for event in aggregate.collect_events()]


def a_customer() -> Customer:
    return Customer("Dana", [{"channel": "twitter", "handle": "@dana"}], "d@example.com", "en", NOW, ACTOR)


def a_conversation() -> Conversation:
    return Conversation(uuid4(), "twitter", None, "public", NOW, ACTOR)


# ---- Customer -----------------------------------------------------------------------------------


def test_a_profile_update_records_only_the_fields_that_change() -> None:
    customer = a_customer()
    customer.collect_events()
    customer.update_profile({"name": "Dana", "locale": "fr"}, NOW, ACTOR)
    events = customer.collect_events()
    assert [type(e).__qualname__ for e in events] == ["Customer.ProfileUpdated"]
    assert events[0].changes == {"locale": "fr"}
    customer.update_profile({"name": "Dana"}, NOW, ACTOR)
    assert event_names(customer) == []


def test_setting_consent_to_what_it_is_records_nothing() -> None:
    customer = a_customer()
    customer.collect_events()
    customer.set_marketing_consent(False, None, NOW, ACTOR)
    assert event_names(customer) == []
    customer.set_marketing_consent(True, "form", NOW, ACTOR)
    assert event_names(customer) == ["Customer.MarketingConsentGiven"]


def test_nps_is_between_0_and_10() -> None:
    customer = a_customer()
    for score in (-1, 11):
        with pytest.raises(RuleViolationError):
            customer.give_nps(score, None, NOW, ACTOR)
    customer.give_nps(10, None, NOW, ACTOR)
    assert customer.latest_nps == 10


def test_an_identity_is_linked_once_and_matched_without_case() -> None:
    customer = a_customer()
    with pytest.raises(ConflictError):
        customer.link_identity("TWITTER", "@DANA", NOW, ACTOR)
    with pytest.raises(ConflictError):
        customer.unlink_identity("email", "dana@example.com", NOW, ACTOR)


def test_a_merged_or_forgotten_customer_takes_no_more_changes() -> None:
    merged, forgotten = a_customer(), a_customer()
    merged.merge_into(uuid4(), NOW, ACTOR)
    forgotten.forget(None, NOW, ACTOR)
    for customer in (merged, forgotten):
        with pytest.raises(CustomerInactiveError):
            customer.tag("vip", NOW, ACTOR)
    with pytest.raises(CustomerInactiveError):
        forgotten.forget(None, NOW, ACTOR)


def test_forgetting_blanks_every_personal_field() -> None:
    customer = a_customer()
    customer.give_nps(3, "The agent, John, was rude", NOW, ACTOR)
    customer.forget("request", NOW, ACTOR)
    assert (customer.name, customer.email, customer.identities) == ("[forgotten]", None, [])
    assert customer.nps_history[0]["comment"] is None and customer.nps_history[0]["score"] == 3


# ---- Conversation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "compound", "kind"),
    [
        ("whatever", -0.35, "complaint"),
        ("why?", -0.34, "question"),
        ("lovely", 0.5, "praise"),
        ("fine", 0.49, "other"),
        ("is this great?", 0.9, "question"),
    ],
)
def test_the_first_message_classifies_at_the_design_thresholds(text: str, compound: float, kind: str) -> None:
    assert classify(text, compound) == kind


def test_a_complaint_starts_high_and_other_kinds_medium() -> None:
    complaint, question = a_conversation(), a_conversation()
    complaint.receive_message(uuid4(), "awful", None, sentiment(-0.8), NOW, ACTOR)
    question.receive_message(uuid4(), "when?", None, sentiment(0.0), NOW, ACTOR)
    assert (complaint.kind, complaint.priority) == ("complaint", "high")
    assert (question.kind, question.priority) == ("question", "medium")


def test_only_the_first_inbound_message_classifies() -> None:
    conversation = a_conversation()
    conversation.receive_message(uuid4(), "when?", None, sentiment(0.0), NOW, ACTOR)
    conversation.receive_message(uuid4(), "awful!", None, sentiment(-0.9), NOW, ACTOR)
    assert conversation.kind == "question"


def test_an_agents_kind_and_priority_are_never_overwritten_automatically() -> None:
    conversation = a_conversation()
    conversation.classify_as("idea", NOW, ACTOR)
    conversation.change_priority("low", NOW, ACTOR)
    conversation.receive_message(uuid4(), "awful", None, sentiment(-0.9), NOW, ACTOR)
    assert (conversation.kind, conversation.kind_source, conversation.priority) == ("idea", "agent", "low")


def test_status_goes_open_pending_resolved_and_a_new_message_reopens() -> None:
    conversation = a_conversation()
    conversation.receive_message(uuid4(), "hi?", None, sentiment(0.0), NOW, ACTOR)
    assert conversation.status == "open"
    conversation.send_reply(uuid4(), "hello", None, NOW, ACTOR)
    assert conversation.status == "pending"
    conversation.resolve(NOW, ACTOR)
    conversation.collect_events()
    conversation.receive_message(uuid4(), "again", None, sentiment(0.0), NOW, ACTOR)
    assert conversation.status == "open"
    assert event_names(conversation) == ["Conversation.Reopened", "Conversation.MessageReceived"]


def test_replying_to_a_resolved_conversation_is_refused() -> None:
    conversation = a_conversation()
    conversation.resolve(NOW, ACTOR)
    with pytest.raises(ConflictError):
        conversation.send_reply(uuid4(), "hello", None, NOW, ACTOR)


def test_csat_is_rated_after_a_resolution_once_per_resolution() -> None:
    conversation = a_conversation()
    with pytest.raises(ConflictError):
        conversation.rate_satisfaction(5, None, NOW, ACTOR)
    conversation.resolve(NOW, ACTOR)
    for rating in (0, 6):
        with pytest.raises(RuleViolationError):
            conversation.rate_satisfaction(rating, None, NOW, ACTOR)
    conversation.rate_satisfaction(4, None, NOW, ACTOR)
    with pytest.raises(ConflictError):
        conversation.rate_satisfaction(5, None, NOW, ACTOR)
    conversation.reopen(NOW, ACTOR)
    conversation.resolve(NOW, ACTOR)
    conversation.rate_satisfaction(5, None, NOW, ACTOR)
    assert [c["rating"] for c in conversation.csat] == [4, 5]


def test_a_retracted_message_keeps_its_text_and_says_who_and_why() -> None:
    conversation = a_conversation()
    message_id = uuid4()
    conversation.send_reply(message_id, "oops", None, NOW, ACTOR)
    conversation.retract_message(message_id, "wrong customer", NOW, ACTOR)
    message = conversation.message(message_id)
    assert message["text"] == "oops"
    assert message["retraction"]["reason"] == "wrong customer" and message["retraction"]["actor"] == ACTOR
    with pytest.raises(ConflictError):
        conversation.retract_message(message_id, "again", NOW, ACTOR)
    with pytest.raises(MessageNotFoundError):
        conversation.retract_message(uuid4(), "unknown", NOW, ACTOR)


def test_response_targets_count_from_the_first_inbound_message() -> None:
    targets = ResponseTargets()
    assert targets.first_response_due(NOW, "urgent") == NOW + timedelta(minutes=15)
    assert targets.first_response_due(NOW, "low") == NOW + timedelta(hours=24)
    assert targets.resolution_due(NOW) == NOW + timedelta(days=3)
    assert targets.first_response_due(None, "high") is None


# ---- Contribution -------------------------------------------------------------------------------


def a_contribution(kind: str = "idea") -> Contribution:
    return Contribution(uuid4(), kind, "Dark mode", "Please", 5 if kind == "review" else None, None, NOW, ACTOR)  # type: ignore[arg-type]


@pytest.mark.parametrize("current", CONTRIBUTION_STATUSES)
@pytest.mark.parametrize("target", CONTRIBUTION_STATUSES)
def test_status_changes_follow_exactly_the_transition_table(current: str, target: str) -> None:
    contribution = a_contribution()
    path = {
        "submitted": [],
        "under_review": ["under_review"],
        "accepted": ["under_review", "accepted"],
        "implemented": ["under_review", "accepted", "implemented"],
        "declined": ["declined"],
    }[current]
    for step in path:
        contribution.change_status(step, None, NOW, ACTOR)  # type: ignore[arg-type]
    if target in TRANSITIONS[current]:  # type: ignore[index]
        contribution.change_status(target, None, NOW, ACTOR)  # type: ignore[arg-type]
        assert contribution.status == target
    else:
        with pytest.raises(IllegalTransitionError):
            contribution.change_status(target, None, NOW, ACTOR)  # type: ignore[arg-type]


def test_an_endorsement_comes_once_from_someone_other_than_the_author() -> None:
    contribution = a_contribution()
    fan = uuid4()
    with pytest.raises(RuleViolationError):
        contribution.endorse(contribution.customer_id, NOW, ACTOR)
    contribution.endorse(fan, NOW, ACTOR)
    with pytest.raises(DuplicateEndorsementError):
        contribution.endorse(fan, NOW, ACTOR)
    assert len(contribution.endorsements) == 1


@pytest.mark.parametrize(
    ("kind", "rating", "handle"),
    [("review", None, None), ("review", 6, None), ("idea", 3, None), ("referral", None, None), ("idea", None, "@x")],
)
def test_contribution_fields_must_fit_their_kind(kind: str, rating: int | None, handle: str | None) -> None:
    with pytest.raises(RuleViolationError):
        Contribution.check_fields(kind, rating, handle)  # type: ignore[arg-type]


def test_only_a_referral_converts_once() -> None:
    referral = Contribution(uuid4(), "referral", "Friend", "x", None, "@friend", NOW, ACTOR)
    referral.convert_referral(uuid4(), NOW, ACTOR)
    with pytest.raises(ConflictError):
        referral.convert_referral(uuid4(), NOW, ACTOR)
    with pytest.raises(RuleViolationError):
        a_contribution("idea").convert_referral(uuid4(), NOW, ACTOR)


# ---- Agent --------------------------------------------------------------------------------------


def test_an_agent_holds_its_current_token_until_deactivated() -> None:
    agent = Agent("Ann", "agent", hash_token("first"), NOW)
    assert agent.holds_token("first") and not agent.holds_token("second")
    agent.rotate_token(hash_token("second"), NOW)
    assert agent.holds_token("second") and not agent.holds_token("first")
    agent.deactivate(NOW)
    assert not agent.holds_token("second")
    with pytest.raises(ConflictError):
        agent.deactivate(NOW)
