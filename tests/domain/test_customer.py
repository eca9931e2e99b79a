"""The Customer aggregate on its own: the events it records and the rules it keeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.customer import Customer, identity_key
from domain.errors import ConflictError, CustomerInactiveError, RuleViolationError
from domain.personal_data import FORGOTTEN, PersonalText

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
ACTOR: dict[str, Any] = {"kind": "agent", "id": None, "name": "Ann Agent"}


def event_names(aggregate: Any) -> list[str]:
    return [type(e).__qualname__ for e in aggregate.collect_events()]


def registered_customer() -> Customer:
    """A customer whose registration event was already collected (as if saved)."""
    customer = Customer.register(
        name="Dana Doe",
        identities=[{"channel": "twitter", "handle": "@DanaDoe"}],
        email="dana@example.com",
        locale="en",
        occurred_at=NOW,
        actor=ACTOR,
    )
    customer.collect_events()
    return customer


def test_registering_records_one_registered_event_with_the_given_fields() -> None:
    customer = Customer.register(
        "Dana Doe", [{"channel": "twitter", "handle": "@dana"}], "dana@example.com", "en", NOW, ACTOR
    )

    events = customer.collect_events()

    assert [type(e).__qualname__ for e in events] == ["Customer.Registered"]
    assert events[0].occurred_at == NOW
    assert events[0].actor == ACTOR
    assert customer.name == "Dana Doe"
    assert customer.identities == [{"channel": "twitter", "handle": "@dana"}]
    assert customer.registered_at == NOW
    assert customer.is_active
    assert customer.tags == []
    assert customer.marketing_consent is False


def test_each_command_records_its_own_event() -> None:
    customer = registered_customer()

    customer.link_identity("email", "dana@example.com", LATER, ACTOR)
    customer.unlink_identity("email", "dana@example.com", LATER, ACTOR)
    customer.update_profile({"locale": "nl"}, LATER, ACTOR)
    customer.tag("vip", LATER, ACTOR)
    customer.untag("vip", LATER, ACTOR)
    customer.set_marketing_consent(True, "web form", LATER, ACTOR)
    customer.set_marketing_consent(False, "e-mail footer", LATER, ACTOR)
    customer.give_nps(9, "Great", LATER, ACTOR)
    customer.absorb_duplicate(uuid4(), LATER, ACTOR)

    assert event_names(customer) == [
        "Customer.IdentityLinked",
        "Customer.IdentityUnlinked",
        "Customer.ProfileUpdated",
        "Customer.Tagged",
        "Customer.Untagged",
        "Customer.MarketingConsentGiven",
        "Customer.MarketingConsentWithdrawn",
        "Customer.NpsGiven",
        "Customer.DuplicateAbsorbed",
    ]


def test_replaying_the_events_rebuilds_the_same_customer() -> None:
    customer = Customer.register("Dana Doe", [{"channel": "twitter", "handle": "@dana"}], None, "en", NOW, ACTOR)
    customer.link_identity("email", "dana@example.com", LATER, ACTOR)
    customer.update_profile({"name": "Dana D."}, LATER, ACTOR)
    customer.tag("vip", LATER, ACTOR)
    customer.set_marketing_consent(True, "web form", LATER, ACTOR)
    customer.give_nps(7, "ok", LATER, ACTOR)

    rebuilt: Any = None
    for recorded in customer.collect_events():
        rebuilt = recorded.mutate(rebuilt)

    assert rebuilt.__dict__ == customer.__dict__


def test_identities_are_matched_without_regard_to_case() -> None:
    customer = registered_customer()

    assert customer.has_identity("Twitter", "@danadoe")
    assert not customer.has_identity("twitter", "@someone_else")
    assert identity_key("E-Mail", "Dana@Example.COM") == identity_key("e-mail", "dana@example.com")


def test_linking_an_identity_the_customer_already_has_is_a_conflict_and_records_nothing() -> None:
    customer = registered_customer()

    with pytest.raises(ConflictError):
        customer.link_identity("twitter", "@danadoe", LATER, ACTOR)

    assert event_names(customer) == []
    assert customer.identities == [{"channel": "twitter", "handle": "@DanaDoe"}]


def test_unlinking_an_identity_the_customer_lacks_is_a_conflict() -> None:
    customer = registered_customer()

    with pytest.raises(ConflictError):
        customer.unlink_identity("twitter", "@someone_else", LATER, ACTOR)

    assert event_names(customer) == []


def test_unlinking_removes_the_identity_whatever_the_case_it_is_given_in() -> None:
    customer = registered_customer()

    customer.unlink_identity("TWITTER", "@danadoe", LATER, ACTOR)

    assert customer.identities == []
    assert not customer.has_identity("twitter", "@DanaDoe")


def test_a_profile_update_records_only_the_fields_that_really_change() -> None:
    customer = registered_customer()

    customer.update_profile({"name": "Dana Doe", "email": "dana@new.example", "locale": "en"}, LATER, ACTOR)

    events = customer.collect_events()
    assert [type(e).__qualname__ for e in events] == ["Customer.ProfileUpdated"]
    assert events[0].changes == {"email": PersonalText(customer.id, "dana@new.example")}  # sealed for the customer
    assert customer.email == "dana@new.example"
    assert customer.name == "Dana Doe"


def test_a_profile_update_that_changes_nothing_records_nothing() -> None:
    customer = registered_customer()

    customer.update_profile({"name": "Dana Doe", "locale": "en"}, LATER, ACTOR)
    customer.update_profile({}, LATER, ACTOR)

    assert event_names(customer) == []


def test_a_profile_update_of_fields_outside_the_profile_is_refused() -> None:
    customer = registered_customer()

    with pytest.raises(RuleViolationError, match="identities"):
        customer.update_profile({"name": "Dana", "identities": []}, LATER, ACTOR)

    assert event_names(customer) == []
    assert customer.name == "Dana Doe"


def test_tagging_twice_records_one_tag_and_untagging_a_missing_tag_records_nothing() -> None:
    customer = registered_customer()

    customer.tag("vip", LATER, ACTOR)
    customer.tag("vip", LATER, ACTOR)
    customer.untag("churn-risk", LATER, ACTOR)

    assert event_names(customer) == ["Customer.Tagged"]
    assert customer.tags == ["vip"]


def test_setting_consent_to_what_it_already_is_records_nothing() -> None:
    customer = registered_customer()

    customer.set_marketing_consent(False, "web form", LATER, ACTOR)
    assert event_names(customer) == []

    customer.set_marketing_consent(True, "web form", LATER, ACTOR)
    customer.set_marketing_consent(True, "web form", LATER, ACTOR)
    assert event_names(customer) == ["Customer.MarketingConsentGiven"]


def test_consent_history_records_each_change_with_its_source() -> None:
    customer = registered_customer()

    customer.set_marketing_consent(True, "web form", NOW, ACTOR)
    customer.set_marketing_consent(False, "unsubscribe link", LATER, ACTOR)

    assert customer.marketing_consent is False
    assert [(h["given"], h["source"], h["occurred_at"]) for h in customer.consent_history] == [
        (True, "web form", NOW),
        (False, "unsubscribe link", LATER),
    ]


@pytest.mark.parametrize("score", [0, 5, 10])
def test_an_nps_score_from_0_to_10_is_recorded(score: int) -> None:
    customer = registered_customer()

    customer.give_nps(score, "why not", LATER, ACTOR)

    assert event_names(customer) == ["Customer.NpsGiven"]
    assert customer.latest_nps == score
    assert customer.nps_history == [{"score": score, "comment": "why not", "occurred_at": LATER}]


@pytest.mark.parametrize("score", [-1, 11, 100])
def test_an_nps_score_outside_0_to_10_is_refused(score: int) -> None:
    customer = registered_customer()

    with pytest.raises(RuleViolationError):
        customer.give_nps(score, None, LATER, ACTOR)

    assert event_names(customer) == []
    assert customer.latest_nps is None


def test_the_latest_nps_is_the_last_one_given() -> None:
    customer = registered_customer()

    customer.give_nps(3, None, NOW, ACTOR)
    customer.give_nps(8, None, LATER, ACTOR)

    assert customer.latest_nps == 8
    assert [n["score"] for n in customer.nps_history] == [3, 8]


def test_a_merged_duplicate_points_at_its_survivor_and_becomes_inactive() -> None:
    customer = registered_customer()
    survivor_id = uuid4()

    customer.merge_into(survivor_id, LATER, ACTOR)

    assert event_names(customer) == ["Customer.MergedInto"]
    assert customer.merged_into == survivor_id
    assert not customer.is_active
    assert customer.name == "Dana Doe"  # non-destructive: the duplicate keeps its data and history


def test_a_customer_cannot_be_merged_into_itself() -> None:
    customer = registered_customer()

    with pytest.raises(RuleViolationError):
        customer.merge_into(customer.id, LATER, ACTOR)

    assert event_names(customer) == []
    assert customer.is_active


def test_a_survivor_lists_the_duplicates_it_absorbed() -> None:
    customer = registered_customer()
    first, second = uuid4(), uuid4()

    customer.absorb_duplicate(first, NOW, ACTOR)
    customer.absorb_duplicate(second, LATER, ACTOR)

    assert customer.merged_duplicates == [first, second]
    assert customer.is_active


COMMANDS: dict[str, Callable[[Customer], None]] = {
    "link_identity": lambda c: c.link_identity("email", "new@example.com", LATER, ACTOR),
    "unlink_identity": lambda c: c.unlink_identity("twitter", "@DanaDoe", LATER, ACTOR),
    "update_profile": lambda c: c.update_profile({"name": "Someone"}, LATER, ACTOR),
    "tag": lambda c: c.tag("vip", LATER, ACTOR),
    "untag": lambda c: c.untag("vip", LATER, ACTOR),
    "give_consent": lambda c: c.set_marketing_consent(True, "web form", LATER, ACTOR),
    "give_nps": lambda c: c.give_nps(9, None, LATER, ACTOR),
    "merge_into": lambda c: c.merge_into(uuid4(), LATER, ACTOR),
    "absorb_duplicate": lambda c: c.absorb_duplicate(uuid4(), LATER, ACTOR),
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_merged_customer_takes_no_more_changes(command: Callable[[Customer], None]) -> None:
    customer = registered_customer()
    customer.merge_into(uuid4(), NOW, ACTOR)
    customer.collect_events()

    with pytest.raises(CustomerInactiveError, match="merged"):
        command(customer)

    assert event_names(customer) == []


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_forgotten_customer_takes_no_more_changes(command: Callable[[Customer], None]) -> None:
    customer = registered_customer()
    customer.forget("asked by e-mail", NOW, ACTOR)
    customer.collect_events()

    with pytest.raises(CustomerInactiveError, match="forgotten"):
        command(customer)

    assert event_names(customer) == []


def test_a_merged_duplicate_can_still_be_forgotten() -> None:
    customer = registered_customer()
    customer.merge_into(uuid4(), NOW, ACTOR)
    customer.collect_events()

    customer.forget("GDPR request", LATER, ACTOR)

    assert event_names(customer) == ["Customer.Forgotten"]
    assert customer.forgotten_at == LATER


def test_forgetting_twice_is_refused() -> None:
    customer = registered_customer()
    customer.forget("GDPR request", NOW, ACTOR)
    customer.collect_events()

    with pytest.raises(CustomerInactiveError):
        customer.forget("again", LATER, ACTOR)

    assert event_names(customer) == []
    assert customer.forgotten_at == NOW


def test_forgetting_blanks_every_personal_field_and_keeps_the_statistics() -> None:
    customer = registered_customer()
    customer.link_identity("email", "dana@example.com", NOW, ACTOR)
    customer.set_marketing_consent(True, "web form", NOW, ACTOR)
    customer.give_nps(4, "Dana here, call me on 0612345678", NOW, ACTOR)
    customer.collect_events()

    customer.forget("GDPR request", LATER, ACTOR)

    events = customer.collect_events()
    assert [type(e).__qualname__ for e in events] == ["Customer.Forgotten"]
    assert events[0].reason == "GDPR request"
    assert customer.name == FORGOTTEN
    assert customer.email is None
    assert customer.identities == []
    assert customer.marketing_consent is False
    assert customer.nps_history == [{"score": 4, "comment": None, "occurred_at": NOW}]
    assert customer.latest_nps == 4
    assert customer.forgotten_at == LATER
    assert not customer.is_active
