"""The CustomerRelations application on the in-memory store: commands, uniqueness, races, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.actor import Actor
from domain.application import CustomerRelations, InboundMessage
from domain.errors import (
    AuthenticationError,
    ConcurrentChangeError,
    DuplicateIdentityError,
    DuplicateMessageError,
    RuleViolationError,
    StaleVersionError,
)

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@pytest.fixture
def relations() -> CustomerRelations:
    return CustomerRelations(env=POPO, clock=lambda: NOW)


@pytest.fixture
def actor(relations: CustomerRelations) -> Actor:
    token = relations.bootstrap_admin()
    assert token is not None
    admin = relations.authenticate(token)
    return Actor("agent", admin.id, admin.name)


def register(relations: CustomerRelations, actor: Actor, handle: str = "@dana") -> UUID:
    return relations.register_customer(
        "Dana", [{"channel": "twitter", "handle": handle}], None, None, actor
    ).aggregate.id


def test_every_write_answers_with_the_position_of_its_last_event(relations: CustomerRelations, actor: Actor) -> None:
    first = relations.register_customer("Dana", [], None, None, actor)
    second = relations.tag_customer(first.aggregate.id, "vip", actor)
    assert first.position is not None and second.position == relations.head_position > first.position


def test_a_command_that_changes_nothing_has_no_position(relations: CustomerRelations, actor: Actor) -> None:
    customer = register(relations, actor)
    relations.tag_customer(customer, "vip", actor)
    assert relations.tag_customer(customer, "vip", actor).position is None


def test_a_duplicate_identity_records_no_event(relations: CustomerRelations, actor: Actor) -> None:
    register(relations, actor, "@Dana")
    before = relations.head_position
    with pytest.raises(DuplicateIdentityError):
        register(relations, actor, "@dana")
    with pytest.raises(RuleViolationError):
        relations.register_customer(
            "Twice",
            [{"channel": "email", "handle": "a@b.c"}, {"channel": "EMAIL", "handle": "A@B.C"}],
            None,
            None,
            actor,
        )
    assert relations.head_position == before


def test_a_channel_message_id_is_recorded_once_across_conversations(relations: CustomerRelations, actor: Actor) -> None:
    customer = register(relations, actor)
    first = relations.start_conversation(
        customer, "twitter", None, "public", actor, message=InboundMessage("hi", "tw-1")
    )
    second = relations.start_conversation(customer, "twitter", None, "public", actor).aggregate
    before = relations.head_position
    with pytest.raises(DuplicateMessageError) as refused:
        relations.receive_message(second.id, InboundMessage("hi", "tw-1"))
    assert str(first.aggregate.id) in str(refused.value)
    assert relations.head_position == before


def test_a_stale_expected_version_is_refused(relations: CustomerRelations, actor: Actor) -> None:
    customer = register(relations, actor)
    relations.tag_customer(customer, "vip", actor)
    with pytest.raises(StaleVersionError):
        relations.tag_customer(customer, "press", actor, expected_version=1)
    assert relations.tag_customer(customer, "press", actor, expected_version=2).aggregate.tags == ["vip", "press"]


class RacedOnce(CustomerRelations):
    """Lets a competing writer save the same customer just before this application's next saves."""

    def __init__(self, races: int) -> None:
        super().__init__(env=POPO, clock=lambda: NOW)
        self.races = races
        self.racing_customer: UUID | None = None

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        if self.racing_customer is not None and self.races > 0:
            self.races -= 1
            rival = self.repository.get(self.racing_customer)
            rival.tag(f"rival-{self.races}", NOW, {"kind": "system", "id": None, "name": "rival"})
            super().save(rival)
        return super().save(*objs, **kwargs)


def test_a_command_that_loses_a_race_is_run_again_on_the_new_state() -> None:
    relations = RacedOnce(races=1)
    actor = Actor("system", None, "test")
    customer = relations.register_customer("Dana", [], None, None, actor).aggregate.id
    relations.racing_customer = customer
    written = relations.tag_customer(customer, "vip", actor)
    assert written.aggregate.tags == ["rival-0", "vip"]


def test_a_command_that_keeps_losing_races_answers_a_concurrency_conflict() -> None:
    relations = RacedOnce(races=10)
    actor = Actor("system", None, "test")
    customer = relations.register_customer("Dana", [], None, None, actor).aggregate.id
    relations.racing_customer = customer
    with pytest.raises(ConcurrentChangeError):
        relations.tag_customer(customer, "vip", actor)


def test_forgetting_a_survivor_forgets_its_duplicates_and_frees_all_their_identities(
    relations: CustomerRelations, actor: Actor
) -> None:
    survivor, duplicate = register(relations, actor, "@dana"), register(relations, actor, "@dscully")
    relations.merge_customers(survivor, duplicate, actor)
    relations.forget_customer(survivor, None, actor)
    assert relations.get_customer(duplicate).forgotten_at is not None
    register(relations, actor, "@dana")
    register(relations, actor, "@dscully")


def test_the_timeline_tells_a_customers_story_across_merges_oldest_first(
    relations: CustomerRelations, actor: Actor
) -> None:
    survivor, duplicate = register(relations, actor, "@dana"), register(relations, actor, "@dscully")
    early = NOW - timedelta(days=2)
    relations.start_conversation(
        duplicate, "twitter", None, "public", actor, message=InboundMessage("Broken!", None, early)
    )
    relations.submit_contribution(survivor, "idea", "Dark mode", "Please", None, None, actor)
    relations.merge_customers(survivor, duplicate, actor)
    entries = relations.get_timeline(survivor)
    assert entries[0].type == "conversation.started" and entries[0].occurred_at == early
    assert [e.occurred_at for e in entries] == sorted(e.occurred_at for e in entries)
    assert {"contribution.submitted", "customer.duplicate_merged", "customer.merged_into"} <= {e.type for e in entries}
    assert any(e.summary == "Message received: “Broken!”" for e in entries)


def test_the_timeline_hides_personal_text_once_the_customer_is_forgotten(
    relations: CustomerRelations, actor: Actor
) -> None:
    customer = register(relations, actor)
    relations.start_conversation(
        customer, "twitter", "My address", "public", actor, message=InboundMessage("I live at 5 Elm St")
    )
    relations.forget_customer(customer, None, actor)
    summaries = " ".join(e.summary for e in relations.get_timeline(customer))
    assert "Elm" not in summaries and "Dana" not in summaries and "My address" not in summaries
    assert "[forgotten]" in summaries


def test_bootstrapping_happens_once(relations: CustomerRelations) -> None:
    assert relations.bootstrap_admin("cnv_chosen") == "cnv_chosen"
    assert relations.bootstrap_admin() is None
    assert relations.authenticate("cnv_chosen").role == "admin"


def test_tokens_rotate_and_revoke(relations: CustomerRelations, actor: Actor) -> None:
    written, token = relations.register_agent("Walter", "agent")
    _, new_token = relations.rotate_agent_token(written.aggregate.id)
    with pytest.raises(AuthenticationError):
        relations.authenticate(token)
    assert relations.authenticate(new_token).name == "Walter"
    relations.deactivate_agent(written.aggregate.id, actor)
    with pytest.raises(AuthenticationError):
        relations.authenticate(new_token)
    with pytest.raises(RuleViolationError):
        relations.deactivate_agent(actor.id, actor)  # type: ignore[arg-type]
    assert [a.name for a in relations.list_agents()] == ["admin", "Walter"]
