"""The CustomerRelations application on the in-memory store: commands, uniqueness, history, agents."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain.actor import SYSTEM, Actor
from domain.application import CustomerRelations, InboundMessage
from domain.errors import (
    AuthenticationError,
    ConflictError,
    ContributionNotFoundError,
    ConversationNotFoundError,
    CustomerInactiveError,
    CustomerNotFoundError,
    DuplicateIdentityError,
    DuplicateMessageError,
    MessageNotFoundError,
    RuleViolationError,
    StaleVersionError,
)
from domain.personal_data import FORGOTTEN
from tests.domain.conftest import START, Clock

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def register(crm: CustomerRelations, actor: Actor, name: str = "Dana Doe", *handles: str) -> UUID:
    identities = [{"channel": "twitter", "handle": handle} for handle in handles]
    return crm.register_customer(name, identities, None, "en", actor).aggregate.id


def all_stored_state(crm: CustomerRelations) -> bytes:
    return b"".join(n.state for n in crm.recorder.select_notifications(start=1, limit=10_000))


# ---- writes and positions -----------------------------------------------------------------------


def test_a_new_store_is_at_position_zero() -> None:
    assert CustomerRelations(env=POPO).head_position == 0


def test_every_write_answers_with_the_position_of_its_last_event(crm: CustomerRelations, admin_actor: Actor) -> None:
    first = crm.register_customer("Dana Doe", [{"channel": "twitter", "handle": "@dana"}], None, None, admin_actor)
    assert first.position == crm.head_position

    second = crm.tag_customer(first.aggregate.id, "vip", admin_actor)
    assert second.position == crm.head_position
    assert first.position is not None
    assert second.position is not None
    assert second.position > first.position
    assert second.aggregate.tags == ["vip"]


def test_a_command_that_changes_nothing_has_no_position_and_records_nothing(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = register(crm, admin_actor)
    before = crm.head_position

    written = crm.set_marketing_consent(customer_id, False, "web form", admin_actor)

    assert written.position is None
    assert crm.head_position == before


def test_a_stale_expected_version_is_refused_and_records_nothing(crm: CustomerRelations, admin_actor: Actor) -> None:
    customer_id = register(crm, admin_actor)
    crm.tag_customer(customer_id, "vip", admin_actor, expected_version=1)
    before = crm.head_position

    with pytest.raises(StaleVersionError) as refused:
        crm.tag_customer(customer_id, "churn-risk", admin_actor, expected_version=1)

    assert (refused.value.expected, refused.value.actual) == (1, 2)
    assert crm.head_position == before
    assert crm.get_customer(customer_id).tags == ["vip"]


def test_the_current_expected_version_is_accepted(crm: CustomerRelations, admin_actor: Actor) -> None:
    customer_id = register(crm, admin_actor)
    version = crm.get_customer(customer_id).version

    written = crm.update_customer_profile(customer_id, {"name": "Dana D."}, admin_actor, expected_version=version)

    assert written.aggregate.version == version + 1
    assert crm.get_customer(customer_id).name == "Dana D."


def test_a_stale_expected_version_of_a_conversation_is_refused(crm: CustomerRelations, admin_actor: Actor) -> None:
    customer_id = register(crm, admin_actor)
    conversation = crm.start_conversation(customer_id, "email", None, "private", admin_actor).aggregate

    with pytest.raises(StaleVersionError):
        crm.send_reply(conversation.id, "Hello", admin_actor, expected_version=conversation.version + 1)

    assert crm.get_conversation(conversation.id).messages == []


def test_commands_use_the_clock_when_no_time_is_given(crm: CustomerRelations, admin_actor: Actor, clock: Clock) -> None:
    customer_id = register(crm, admin_actor)
    later = clock.advance(hours=2)

    crm.give_nps(customer_id, 9, None)

    customer = crm.get_customer(customer_id)
    assert customer.registered_at == START
    assert customer.nps_history[-1]["occurred_at"] == later


def test_unknown_ids_raise_not_found_errors_of_the_right_kind(crm: CustomerRelations, admin_actor: Actor) -> None:
    customer_id = register(crm, admin_actor)

    with pytest.raises(CustomerNotFoundError):
        crm.get_customer(uuid4())
    with pytest.raises(ConversationNotFoundError):
        crm.get_conversation(customer_id)  # a customer is no conversation
    with pytest.raises(ContributionNotFoundError):
        crm.get_contribution(uuid4())
    with pytest.raises(CustomerNotFoundError):
        crm.tag_customer(uuid4(), "vip", admin_actor)


# ---- identities ---------------------------------------------------------------------------------


def test_a_duplicate_identity_in_any_case_is_refused_and_records_no_event(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    register(crm, admin_actor, "Dana Doe", "@DanaDoe")
    before = crm.head_position

    with pytest.raises(DuplicateIdentityError):
        register(crm, admin_actor, "Impostor", "@danadoe")
    with pytest.raises(DuplicateIdentityError):
        crm.register_customer("Impostor", [{"channel": "TWITTER", "handle": "@DANADOE"}], None, None, admin_actor)

    assert crm.head_position == before


def test_the_same_handle_on_another_channel_is_another_identity(crm: CustomerRelations, admin_actor: Actor) -> None:
    register(crm, admin_actor, "Dana Doe", "@dana")

    other = crm.register_customer("Dana Other", [{"channel": "instagram", "handle": "@dana"}], None, None, admin_actor)

    assert other.aggregate.identities == [{"channel": "instagram", "handle": "@dana"}]


def test_an_identity_listed_twice_at_registration_is_refused(crm: CustomerRelations, admin_actor: Actor) -> None:
    before = crm.head_position

    with pytest.raises(RuleViolationError):
        register(crm, admin_actor, "Dana Doe", "@dana", "@DANA")

    assert crm.head_position == before


def test_linking_an_identity_of_another_customer_is_refused_and_records_nothing(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    register(crm, admin_actor, "Dana Doe", "@dana")
    other_id = register(crm, admin_actor, "Eve Example", "@eve")
    before = crm.head_position

    with pytest.raises(DuplicateIdentityError):
        crm.link_identity(other_id, "twitter", "@Dana", admin_actor)

    assert crm.head_position == before
    assert crm.get_customer(other_id).identities == [{"channel": "twitter", "handle": "@eve"}]


def test_unlinking_an_identity_frees_it_for_another_customer(crm: CustomerRelations, admin_actor: Actor) -> None:
    dana_id = register(crm, admin_actor, "Dana Doe", "@shared")
    eve_id = register(crm, admin_actor, "Eve Example", "@eve")

    crm.unlink_identity(dana_id, "twitter", "@SHARED", admin_actor)
    crm.link_identity(eve_id, "twitter", "@shared", admin_actor)

    assert crm.get_customer(dana_id).identities == []
    assert crm.get_customer(eve_id).identities == [
        {"channel": "twitter", "handle": "@eve"},
        {"channel": "twitter", "handle": "@shared"},
    ]
    with pytest.raises(DuplicateIdentityError):
        crm.link_identity(dana_id, "twitter", "@shared", admin_actor)


# ---- merging ------------------------------------------------------------------------------------


def test_a_merged_duplicate_points_at_the_survivor_and_the_survivor_lists_it(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    survivor_id = register(crm, admin_actor, "Dana Doe", "@dana")
    duplicate_id = register(crm, admin_actor, "D. Doe", "@ddoe")

    written = crm.merge_customers(survivor_id, duplicate_id, admin_actor)

    assert written.aggregate.id == survivor_id
    assert written.position == crm.head_position
    assert crm.get_customer(survivor_id).merged_duplicates == [duplicate_id]
    duplicate = crm.get_customer(duplicate_id)
    assert duplicate.merged_into == survivor_id
    assert duplicate.name == "D. Doe"  # non-destructive
    assert not duplicate.is_active


def test_merging_a_customer_into_itself_is_a_rule_violation(crm: CustomerRelations, admin_actor: Actor) -> None:
    customer_id = register(crm, admin_actor)
    before = crm.head_position

    with pytest.raises(RuleViolationError):
        crm.merge_customers(customer_id, customer_id, admin_actor)

    assert crm.head_position == before


def test_a_merged_duplicate_takes_no_more_changes_and_cannot_be_merged_again(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    survivor_id = register(crm, admin_actor, "Dana Doe", "@dana")
    duplicate_id = register(crm, admin_actor, "D. Doe", "@ddoe")
    third_id = register(crm, admin_actor, "Third", "@third")
    crm.merge_customers(survivor_id, duplicate_id, admin_actor)
    before = crm.head_position

    with pytest.raises(CustomerInactiveError):
        crm.tag_customer(duplicate_id, "vip", admin_actor)
    with pytest.raises(CustomerInactiveError):
        crm.merge_customers(third_id, duplicate_id, admin_actor)
    with pytest.raises(CustomerInactiveError):
        crm.merge_customers(duplicate_id, third_id, admin_actor)
    with pytest.raises(CustomerInactiveError):
        crm.start_conversation(duplicate_id, "email", None, "private", admin_actor)

    assert crm.head_position == before


def test_a_merged_duplicate_keeps_its_identities_claimed(crm: CustomerRelations, admin_actor: Actor) -> None:
    survivor_id = register(crm, admin_actor, "Dana Doe", "@dana")
    duplicate_id = register(crm, admin_actor, "D. Doe", "@ddoe")
    crm.merge_customers(survivor_id, duplicate_id, admin_actor)

    with pytest.raises(DuplicateIdentityError):
        register(crm, admin_actor, "Someone", "@ddoe")


# ---- forgetting ---------------------------------------------------------------------------------


def test_forgetting_a_customer_erases_their_personal_data_and_frees_their_identities(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = crm.register_customer(
        "Dana Doe", [{"channel": "twitter", "handle": "@dana"}], "dana@example.com", "en", admin_actor
    ).aggregate.id

    written = crm.forget_customer(customer_id, "GDPR request", admin_actor)

    assert written.position == crm.head_position
    forgotten = crm.get_customer(customer_id)
    assert (forgotten.name, forgotten.email, forgotten.identities) == (FORGOTTEN, None, [])
    assert forgotten.forgotten_at is not None
    newcomer = register(crm, admin_actor, "New Dana", "@DANA")
    assert crm.get_customer(newcomer).identities == [{"channel": "twitter", "handle": "@DANA"}]


def test_forgetting_a_survivor_cascades_to_its_merged_duplicates_and_frees_their_identities(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    survivor_id = register(crm, admin_actor, "Dana Doe", "@dana")
    duplicate_id = register(crm, admin_actor, "D. Doe", "@ddoe")
    crm.merge_customers(survivor_id, duplicate_id, admin_actor)

    crm.forget_customer(survivor_id, "GDPR request", admin_actor)

    for customer_id in (survivor_id, duplicate_id):
        customer = crm.get_customer(customer_id)
        assert customer.name == FORGOTTEN
        assert customer.identities == []
        assert customer.forgotten_at is not None
    register(crm, admin_actor, "New Dana", "@dana")
    register(crm, admin_actor, "New D.", "@ddoe")


def test_forgetting_a_forgotten_customer_is_refused_and_records_nothing(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = register(crm, admin_actor, "Dana Doe", "@dana")
    crm.forget_customer(customer_id, "GDPR request", admin_actor)
    before = crm.head_position

    with pytest.raises(CustomerInactiveError):
        crm.forget_customer(customer_id, "again", admin_actor)

    assert crm.head_position == before


def test_a_forgotten_customer_takes_no_more_messages_or_contributions(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = register(crm, admin_actor)
    conversation_id = crm.start_conversation(customer_id, "email", None, "private", admin_actor).aggregate.id
    crm.forget_customer(customer_id, "GDPR request", admin_actor)
    before = crm.head_position

    with pytest.raises(CustomerInactiveError):
        crm.receive_message(conversation_id, InboundMessage("I am back"))
    with pytest.raises(CustomerInactiveError):
        crm.submit_contribution(customer_id, "idea", "Dark mode", "Please", None, None, admin_actor)
    with pytest.raises(CustomerInactiveError):
        crm.give_nps(customer_id, 10, None)

    assert crm.head_position == before


def test_forgetting_cascades_through_chained_merges(crm: CustomerRelations, admin_actor: Actor) -> None:
    first_id = register(crm, admin_actor, "Bob First", "@bob")
    middle_id = register(crm, admin_actor, "Bob Middle", "@bobby")
    last_id = register(crm, admin_actor, "Bob Last", "@robert")
    crm.merge_customers(middle_id, first_id, admin_actor)  # middle absorbs first
    crm.merge_customers(last_id, middle_id, admin_actor)  # last absorbs middle (and so first)

    crm.forget_customer(last_id, "GDPR request", admin_actor)

    first = crm.get_customer(first_id)
    assert (first.name, first.identities) == (FORGOTTEN, [])
    register(crm, admin_actor, "Someone else", "@bob")


def test_a_forgotten_duplicates_personal_text_stays_hidden_in_the_survivors_timeline(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    survivor_id = register(crm, admin_actor, "Dana Doe", "@dana")
    duplicate_id = register(crm, admin_actor, "Bob Secret", "@bob")
    crm.start_conversation(
        duplicate_id, "twitter", None, "private", admin_actor, message=InboundMessage("my secret address")
    )
    crm.merge_customers(survivor_id, duplicate_id, admin_actor)

    crm.forget_customer(duplicate_id, "GDPR request", admin_actor)

    summaries = " | ".join(entry.summary for entry in crm.get_timeline(survivor_id))
    assert "Bob Secret" not in summaries
    assert "my secret address" not in summaries


# ---- timeline -----------------------------------------------------------------------------------


def test_the_timeline_lists_customer_conversation_and_contribution_events_oldest_first(
    crm: CustomerRelations, admin_actor: Actor, clock: Clock
) -> None:
    customer_id = register(crm, admin_actor, "Dana Doe", "@dana")
    clock.advance(minutes=10)
    contribution_id = crm.submit_contribution(
        customer_id, "idea", "Dark mode", "Please add it", None, None, Actor.customer(customer_id)
    ).aggregate.id
    clock.advance(minutes=10)
    conversation_id = crm.start_conversation(
        customer_id, "twitter", "Parcel", "public", admin_actor, message=InboundMessage("Where is my parcel?")
    ).aggregate.id
    clock.advance(minutes=10)
    crm.tag_customer(customer_id, "vip", admin_actor)
    clock.advance(minutes=10)
    crm.send_reply(conversation_id, "It is on its way", admin_actor)
    clock.advance(minutes=10)
    crm.change_contribution_status(contribution_id, "under_review", None, admin_actor)
    # An imported message that happened before everything else comes first.
    crm.receive_message(conversation_id, InboundMessage("Hello?", occurred_at=START - timedelta(days=1)))

    timeline = crm.get_timeline(customer_id)

    assert [entry.type for entry in timeline] == [
        "conversation.message_received",
        "customer.registered",
        "contribution.submitted",
        "conversation.started",
        "conversation.message_received",
        "conversation.classified",
        "customer.tagged",
        "conversation.reply_sent",
        "contribution.status_changed",
    ]
    assert [entry.occurred_at for entry in timeline] == sorted(entry.occurred_at for entry in timeline)
    assert {entry.aggregate_type for entry in timeline} == {"customer", "conversation", "contribution"}
    assert timeline[1].summary == "Registered as Dana Doe"
    assert timeline[1].aggregate_id == customer_id
    assert timeline[1].actor == admin_actor.as_dict()
    assert timeline[4].summary == "Message received: “Where is my parcel?”"
    assert timeline[7].summary == "Reply by admin: “It is on its way”"
    assert timeline[8].summary == "Status submitted → under_review"


def test_the_timeline_of_a_survivor_includes_the_history_of_its_duplicates(
    crm: CustomerRelations, admin_actor: Actor, clock: Clock
) -> None:
    survivor_id = register(crm, admin_actor, "Dana Doe", "@dana")
    clock.advance(minutes=1)
    duplicate_id = register(crm, admin_actor, "D. Doe", "@ddoe")
    clock.advance(minutes=1)
    crm.start_conversation(duplicate_id, "twitter", None, "public", admin_actor, message=InboundMessage("Hi there"))
    clock.advance(minutes=1)
    crm.merge_customers(survivor_id, duplicate_id, admin_actor)

    timeline = crm.get_timeline(survivor_id)

    assert [entry.summary for entry in timeline][:5] == [
        "Registered as Dana Doe",
        "Registered as D. Doe",
        "Conversation started on twitter",
        "Message received: “Hi there”",
        "Classified as other (automatic)",
    ]
    assert {entry.type for entry in timeline[5:]} == {"customer.merged_into", "customer.duplicate_merged"}


def test_the_timeline_hides_personal_text_after_the_customer_is_forgotten(
    crm: CustomerRelations, admin_actor: Actor, clock: Clock
) -> None:
    customer_id = register(crm, admin_actor, "Dana Doe", "@dana")
    clock.advance(minutes=1)
    conversation_id = crm.start_conversation(
        customer_id, "twitter", "My address", "private", admin_actor, message=InboundMessage("I live at Elm Street 1")
    ).aggregate.id
    clock.advance(minutes=1)
    crm.send_reply(conversation_id, "Thanks Dana, noted Elm Street 1", admin_actor)
    crm.give_nps(customer_id, 3, "Dana is unhappy")
    crm.submit_contribution(customer_id, "idea", "Dana's idea", "body", None, None, admin_actor)
    clock.advance(minutes=1)

    crm.forget_customer(customer_id, "GDPR request", admin_actor)

    timeline = crm.get_timeline(customer_id)
    summaries = [entry.summary for entry in timeline]
    text = " | ".join(summaries)
    assert "Dana" not in text
    assert "Elm Street" not in text
    assert "My address" not in text
    assert "Registered as [forgotten]" in summaries
    assert "Message received: “[forgotten]”" in summaries
    assert "NPS 3: “[forgotten]”" in summaries
    assert summaries[-1] == "Personal data erased on request"


def test_the_timeline_of_an_unknown_customer_is_not_found(crm: CustomerRelations) -> None:
    with pytest.raises(CustomerNotFoundError):
        crm.get_timeline(uuid4())


# ---- conversations ------------------------------------------------------------------------------


def test_a_conversation_starts_with_its_first_message_classified_at_the_same_moment(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = register(crm, admin_actor)

    written = crm.start_conversation(
        customer_id,
        "twitter",
        None,
        "public",
        admin_actor,
        message=InboundMessage("This is terrible, the worst service I have ever had!", external_id="tw-1"),
    )

    conversation = crm.get_conversation(written.aggregate.id)
    assert written.position == crm.head_position
    assert conversation.customer_id == customer_id
    assert conversation.started_at == START
    assert [m["text"] for m in conversation.messages] == ["This is terrible, the worst service I have ever had!"]
    message = conversation.messages[0]
    assert message["occurred_at"] == START
    assert message["external_id"] == "tw-1"
    assert message["author"] == Actor.customer(customer_id).as_dict()
    assert message["sentiment"]["analyser"] == "vaderSentiment"
    assert message["sentiment"]["compound"] <= -0.35
    assert (conversation.kind, conversation.priority) == ("complaint", "high")
    assert conversation.first_inbound_at == START


def test_a_conversation_and_its_first_message_share_one_clock_reading() -> None:
    ticking = Clock()

    def tick() -> datetime:
        return ticking.advance(seconds=1)

    crm = CustomerRelations(env=POPO, clock=tick)
    customer_id = register(crm, SYSTEM)

    conversation = crm.start_conversation(
        customer_id, "email", None, "private", SYSTEM, message=InboundMessage("Hello")
    ).aggregate

    assert conversation.messages[0]["occurred_at"] == conversation.started_at == conversation.first_inbound_at


def test_a_conversation_with_an_imported_first_message_starts_when_the_message_was_written(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = register(crm, admin_actor)
    written_at = START - timedelta(days=2)

    conversation = crm.start_conversation(
        customer_id, "email", None, "private", admin_actor, message=InboundMessage("Hello?", occurred_at=written_at)
    ).aggregate

    assert conversation.started_at == written_at
    assert conversation.first_inbound_at == written_at
    assert conversation.kind == "question"


def test_a_conversation_is_filed_for_an_existing_customer_only(crm: CustomerRelations, admin_actor: Actor) -> None:
    before = crm.head_position

    with pytest.raises(CustomerNotFoundError):
        crm.start_conversation(uuid4(), "email", None, "private", admin_actor)

    assert crm.head_position == before


def test_a_duplicate_external_message_id_is_refused_and_records_nothing(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = register(crm, admin_actor)
    conversation_id = crm.start_conversation(
        customer_id, "twitter", None, "public", admin_actor, message=InboundMessage("Hi", external_id="tw-1")
    ).aggregate.id
    other_id = crm.start_conversation(customer_id, "twitter", None, "public", admin_actor).aggregate.id
    before = crm.head_position

    with pytest.raises(DuplicateMessageError):
        crm.receive_message(conversation_id, InboundMessage("Hi", external_id="tw-1"))
    with pytest.raises(DuplicateMessageError):
        crm.receive_message(other_id, InboundMessage("Hi again", external_id="tw-1"))
    with pytest.raises(DuplicateMessageError):
        crm.send_reply(other_id, "Hello", admin_actor, external_id="tw-1")
    with pytest.raises(DuplicateMessageError):
        crm.start_conversation(
            customer_id, "twitter", None, "public", admin_actor, message=InboundMessage("Hi", external_id="tw-1")
        )

    assert crm.head_position == before
    assert len(crm.get_conversation(conversation_id).messages) == 1
    assert crm.get_conversation(other_id).messages == []


def test_the_same_external_message_id_on_another_channel_is_another_message(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = register(crm, admin_actor)
    crm.start_conversation(
        customer_id, "twitter", None, "public", admin_actor, message=InboundMessage("Hi", external_id="42")
    )

    written = crm.start_conversation(
        customer_id, "email", None, "private", admin_actor, message=InboundMessage("Hi", external_id="42")
    )

    assert written.aggregate.messages[0]["external_id"] == "42"


def test_a_customer_message_after_resolution_reopens_the_conversation(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = register(crm, admin_actor)
    conversation_id = crm.start_conversation(
        customer_id, "email", None, "private", admin_actor, message=InboundMessage("Where is my parcel?")
    ).aggregate.id
    crm.send_reply(conversation_id, "Delivered today", admin_actor)
    crm.resolve_conversation(conversation_id, admin_actor)

    written = crm.receive_message(conversation_id, InboundMessage("It did not arrive"))

    assert written.aggregate.status == "open"
    assert [entry.type for entry in crm.get_timeline(customer_id)][-2:] == [
        "conversation.reopened",
        "conversation.message_received",
    ]


def test_satisfaction_is_rated_by_the_customer_after_a_resolution(crm: CustomerRelations, admin_actor: Actor) -> None:
    customer_id = register(crm, admin_actor)
    conversation_id = crm.start_conversation(customer_id, "email", None, "private", admin_actor).aggregate.id

    with pytest.raises(ConflictError):
        crm.rate_satisfaction(conversation_id, 5, None)
    crm.resolve_conversation(conversation_id, admin_actor)
    crm.rate_satisfaction(conversation_id, 4, "quick")
    with pytest.raises(ConflictError):
        crm.rate_satisfaction(conversation_id, 5, None)

    conversation = crm.get_conversation(conversation_id)
    assert [c["rating"] for c in conversation.csat] == [4]
    rated = next(e for e in crm.events.get(conversation_id) if type(e).__qualname__ == "Conversation.SatisfactionRated")
    assert rated.actor == Actor.customer(customer_id).as_dict()


def test_retracting_a_message_keeps_it_and_an_unknown_message_is_not_found(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = register(crm, admin_actor)
    conversation = crm.start_conversation(
        customer_id, "email", None, "private", admin_actor, message=InboundMessage("My password is hunter2")
    ).aggregate
    message_id = conversation.messages[0]["id"]

    crm.retract_message(conversation.id, message_id, "contains a password", admin_actor)
    with pytest.raises(MessageNotFoundError):
        crm.retract_message(conversation.id, uuid4(), "spam", admin_actor)
    with pytest.raises(ConflictError):
        crm.retract_message(conversation.id, message_id, "again", admin_actor)

    message = crm.get_conversation(conversation.id).message(message_id)
    assert message["text"] == "My password is hunter2"
    assert message["retraction"]["reason"] == "contains a password"
    assert message["retraction"]["actor"] == admin_actor.as_dict()


# ---- contributions ------------------------------------------------------------------------------


def test_a_contribution_with_fields_that_do_not_fit_its_kind_records_nothing(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    customer_id = register(crm, admin_actor)
    before = crm.head_position

    with pytest.raises(RuleViolationError):
        crm.submit_contribution(customer_id, "review", "Meh", "Meh", None, None, admin_actor)

    assert crm.head_position == before


def test_contributions_are_endorsed_by_other_active_customers_only(crm: CustomerRelations, admin_actor: Actor) -> None:
    author_id = register(crm, admin_actor, "Author", "@author")
    fan_id = register(crm, admin_actor, "Fan", "@fan")
    gone_id = register(crm, admin_actor, "Gone", "@gone")
    crm.forget_customer(gone_id, None, admin_actor)
    contribution_id = crm.submit_contribution(
        author_id, "idea", "Dark mode", "Please", None, None, Actor.customer(author_id)
    ).aggregate.id

    crm.endorse_contribution(contribution_id, fan_id, Actor.customer(fan_id))
    with pytest.raises(RuleViolationError):
        crm.endorse_contribution(contribution_id, author_id, Actor.customer(author_id))
    with pytest.raises(CustomerInactiveError):
        crm.endorse_contribution(contribution_id, gone_id, Actor.customer(gone_id))
    with pytest.raises(CustomerNotFoundError):
        crm.endorse_contribution(contribution_id, uuid4(), admin_actor)

    assert [e["customer_id"] for e in crm.get_contribution(contribution_id).endorsements] == [fan_id]


def test_a_referral_converts_into_an_existing_customer(crm: CustomerRelations, admin_actor: Actor) -> None:
    referrer_id = register(crm, admin_actor, "Referrer", "@referrer")
    referral_id = crm.submit_contribution(
        referrer_id, "referral", "My friend", "You will like her", None, "@friend", admin_actor
    ).aggregate.id

    with pytest.raises(CustomerNotFoundError):
        crm.convert_referral(referral_id, uuid4(), admin_actor)
    friend_id = register(crm, admin_actor, "Friend", "@friend")
    crm.convert_referral(referral_id, friend_id, admin_actor)

    assert crm.get_contribution(referral_id).converted_customer_id == friend_id


# ---- agents -------------------------------------------------------------------------------------


def test_bootstrapping_returns_an_admin_token_once_and_none_afterwards(crm: CustomerRelations) -> None:
    token = crm.bootstrap_admin()

    assert token is not None
    assert crm.bootstrap_admin() is None
    assert crm.bootstrap_admin("cnv_chosen") is None
    admin = crm.authenticate(token)
    assert (admin.name, admin.role, admin.active) == ("admin", "admin", True)
    assert [agent.id for agent in crm.list_agents()] == [admin.id]


def test_bootstrapping_with_a_chosen_token_returns_that_token(crm: CustomerRelations) -> None:
    assert crm.bootstrap_admin("cnv_chosen-token") == "cnv_chosen-token"
    assert crm.authenticate("cnv_chosen-token").role == "admin"


def test_bootstrapping_is_refused_once_an_agent_exists(crm: CustomerRelations) -> None:
    crm.register_agent("Ann Agent", "agent")

    assert crm.bootstrap_admin() is None


def test_an_unknown_token_does_not_authenticate(crm: CustomerRelations) -> None:
    crm.bootstrap_admin()

    with pytest.raises(AuthenticationError):
        crm.authenticate("cnv_not-a-real-token")


def test_a_registered_agent_authenticates_with_its_token_which_is_never_stored(crm: CustomerRelations) -> None:
    written, token = crm.register_agent("Ann Agent", "agent")

    agent = crm.authenticate(token)

    assert agent.id == written.aggregate.id
    assert (agent.name, agent.role) == ("Ann Agent", "agent")
    assert written.position == crm.head_position
    assert token.encode() not in all_stored_state(crm)


def test_rotating_a_token_invalidates_the_old_one(crm: CustomerRelations) -> None:
    written, old_token = crm.register_agent("Ann Agent", "agent")

    rotated, new_token = crm.rotate_agent_token(written.aggregate.id)

    assert new_token != old_token
    assert crm.authenticate(new_token).id == written.aggregate.id
    with pytest.raises(AuthenticationError):
        crm.authenticate(old_token)
    assert rotated.position == crm.head_position


def test_a_deactivated_agent_no_longer_authenticates(crm: CustomerRelations, admin_actor: Actor) -> None:
    written, token = crm.register_agent("Ann Agent", "agent")

    crm.deactivate_agent(written.aggregate.id, admin_actor)

    with pytest.raises(AuthenticationError):
        crm.authenticate(token)
    assert crm.get_agent(written.aggregate.id).active is False
    with pytest.raises(ConflictError):
        crm.deactivate_agent(written.aggregate.id, admin_actor)
    with pytest.raises(ConflictError):
        crm.rotate_agent_token(written.aggregate.id)


def test_an_agent_cannot_deactivate_itself(crm: CustomerRelations, admin_actor: Actor) -> None:
    before = crm.head_position

    with pytest.raises(RuleViolationError):
        crm.deactivate_agent(admin_actor.id, admin_actor)

    assert crm.head_position == before
    assert crm.get_agent(admin_actor.id).active


def test_a_conversation_is_assigned_to_active_support_agents_only(crm: CustomerRelations, admin_actor: Actor) -> None:
    customer_id = register(crm, admin_actor)
    conversation_id = crm.start_conversation(customer_id, "email", None, "private", admin_actor).aggregate.id
    marketer = crm.register_agent("Mia Marketing", "marketing")[0].aggregate
    robot = crm.register_agent("Zapier", "integration")[0].aggregate
    leaver = crm.register_agent("Lee Leaver", "agent")[0].aggregate
    crm.deactivate_agent(leaver.id, admin_actor)
    supporter = crm.register_agent("Ann Agent", "agent")[0].aggregate
    before = crm.head_position

    for unfit in (marketer, robot, leaver):
        with pytest.raises(RuleViolationError):
            crm.assign_conversation(conversation_id, unfit.id, admin_actor)
    assert crm.head_position == before

    crm.assign_conversation(conversation_id, supporter.id, admin_actor)
    assert crm.get_conversation(conversation_id).assignee == {"id": supporter.id, "name": "Ann Agent"}
    crm.assign_conversation(conversation_id, None, admin_actor)
    assert crm.get_conversation(conversation_id).assignee is None


def test_agents_are_listed_oldest_first_active_or_not(crm: CustomerRelations, admin_actor: Actor) -> None:
    assert CustomerRelations(env=POPO).list_agents() == []
    ann = crm.register_agent("Ann Agent", "agent")[0].aggregate
    mia = crm.register_agent("Mia Marketing", "marketing")[0].aggregate
    crm.deactivate_agent(ann.id, admin_actor)

    agents = crm.list_agents()

    assert [(a.id, a.name, a.role, a.active) for a in agents] == [
        (admin_actor.id, "admin", "admin", True),
        (ann.id, "Ann Agent", "agent", False),
        (mia.id, "Mia Marketing", "marketing", True),
    ]


def test_the_system_actor_is_recorded_as_the_system(crm: CustomerRelations) -> None:
    customer_id = register(crm, SYSTEM)

    registered = next(iter(crm.events.get(customer_id)))

    assert registered.actor == {"kind": "system", "id": None, "name": "conversa"}
