"""Batch ingest: customers by identity, threading by reply chain, idempotency, arrival order."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.actor import Actor
from domain.application import CustomerRelations
from domain.errors import RuleViolationError
from domain.ingest import ChannelMessage, Outcome
from tests.domain.conftest import START

INTEGRATION = Actor(kind="agent", name="Twitter connector")


def tweet(
    external_id: str, author: str, minute: int, reply_to: str | None = None, text: str | None = None
) -> ChannelMessage:
    """A tweet: authors whose handle starts with "brand" are the company's support account."""
    outbound = author.startswith("brand")
    return ChannelMessage(
        channel="twitter",
        external_id=external_id,
        direction="outbound" if outbound else "inbound",
        author_handle=author,
        author_name="Brand Support" if outbound else None,
        text=text or f"message {external_id}",
        occurred_at=START + timedelta(minutes=minute),
        in_reply_to=reply_to,
    )


# Two customers; Ann's thread with the brand, a second thread of Ann's, Bob replying to Ann's
# thread (his own conversation), a brand broadcast and Bob's answer to it.
THREADS = [
    tweet("1", "@ann", 0, text="My order never arrived, this is awful"),
    tweet("2", "brand", 5, "1"),
    tweet("3", "@ann", 9, "2", text="Still nothing?"),
    tweet("4", "brand", 12, "3"),
    tweet("5", "@ann", 30, text="Also, do you ship to Norway?"),
    tweet("6", "@bob", 31, "1", text="Same here!"),
    tweet("7", "brand", 40),
    tweet("8", "@bob", 41, "7", text="Nice sale"),
    tweet("9", "brand", 42, "6"),
    tweet("10", "@bob", 44, "9", text="Thanks, that worked"),
    tweet("11", "brand", 45, "7"),  # a brand reply to its own broadcast: no conversation either
]


def ingest(crm: CustomerRelations, messages: list[ChannelMessage]) -> list[Outcome]:
    return crm.ingest_messages(messages, INTEGRATION).outcomes


def threads(crm: CustomerRelations, outcomes: list[Outcome]) -> set[tuple[str, ...]]:
    """Each conversation as the external ids of its messages, in the order it shows them."""
    conversation_ids = {o.conversation_id for o in outcomes if o.conversation_id is not None}
    return {
        tuple(m["external_id"] for m in crm.get_conversation(conversation_id).messages)
        for conversation_id in conversation_ids
    }


def test_messages_are_threaded_by_their_reply_chains(crm: CustomerRelations) -> None:
    outcomes = ingest(crm, THREADS)

    assert [o.status for o in outcomes] == ["created"] * 6 + ["ignored"] + ["created"] * 3 + ["ignored"]
    assert threads(crm, outcomes) == {("1", "2", "3", "4"), ("5",), ("6", "9", "10"), ("8",)}
    assert outcomes[6].reason is not None and "broadcast" in outcomes[6].reason


def test_customers_are_found_or_created_by_their_identity(crm: CustomerRelations) -> None:
    outcomes = ingest(crm, THREADS)

    ann = {o.customer_id for o in outcomes if o.external_id in ("1", "3", "5")}
    bob = {o.customer_id for o in outcomes if o.external_id in ("6", "8", "10")}
    assert len(ann) == len(bob) == 1 and ann != bob
    customer = crm.get_customer(ann.pop())  # type: ignore[arg-type]
    assert (customer.name, customer.identities) == ("@ann", [{"channel": "twitter", "handle": "@ann"}])


def test_a_brand_reply_is_signed_by_the_brand_agent_and_the_first_message_classifies(
    crm: CustomerRelations,
) -> None:
    outcomes = ingest(crm, THREADS)

    conversation = crm.get_conversation(outcomes[0].conversation_id)  # type: ignore[arg-type]
    assert [m["direction"] for m in conversation.messages] == ["inbound", "outbound", "inbound", "outbound"]
    assert conversation.messages[1]["author"]["name"] == "Brand Support"
    assert (conversation.kind, conversation.priority, conversation.status) == ("complaint", "high", "pending")
    assert conversation.first_reply_at == START + timedelta(minutes=5)


def test_sending_the_same_batch_twice_changes_nothing(crm: CustomerRelations) -> None:
    first = ingest(crm, THREADS)
    head = crm.head_position

    again = ingest(crm, THREADS)

    assert [o.status for o in again] == ["duplicate"] * 6 + ["ignored"] + ["duplicate"] * 3 + ["ignored"]
    assert [o.conversation_id for o in again if o.status == "duplicate"] == [
        o.conversation_id for o in first if o.status == "created"
    ]
    assert crm.head_position == head


def test_a_message_sent_twice_in_one_batch_is_recorded_once(crm: CustomerRelations) -> None:
    outcomes = ingest(crm, [THREADS[0], THREADS[0]])

    assert [o.status for o in outcomes] == ["created", "duplicate"]


def test_one_batch_is_saved_in_one_transaction(crm: CustomerRelations, monkeypatch: pytest.MonkeyPatch) -> None:
    saves: list[int] = []
    save = crm.save

    def counting_save(*aggregates: Any, **kwargs: Any) -> Any:
        saves.append(len(aggregates))
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(crm, "save", counting_save)

    ingest(crm, THREADS)

    assert len(saves) == 1 and saves[0] > len(THREADS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(THREADS))))
def test_the_order_inside_a_batch_does_not_matter(order: list[int]) -> None:
    in_order = CustomerRelations(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    shuffled = CustomerRelations(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    expected = threads(in_order, ingest(in_order, THREADS))
    outcomes = ingest(shuffled, [THREADS[i] for i in order])

    assert threads(shuffled, outcomes) == expected
    assert sorted(o.status for o in outcomes) == sorted(["created"] * 9 + ["ignored"] * 2)


def test_a_first_message_that_arrives_after_its_reply_joins_the_reply_s_conversation(
    crm: CustomerRelations,
) -> None:
    late_reply = ingest(crm, [tweet("11", "@cy", 3, "10", text="Hello? Anyone?")])

    first = ingest(crm, [tweet("10", "@cy", 0, text="Your app deleted all my photos, terrible")])

    assert first[0].conversation_id == late_reply[0].conversation_id
    conversation = crm.get_conversation(first[0].conversation_id)  # type: ignore[arg-type]
    assert [m["external_id"] for m in conversation.messages] == ["10", "11"]  # in the order they happened
    assert conversation.kind == "complaint"  # the first message decides, not the first to arrive
    assert conversation.first_inbound_at == START


def test_a_brand_reply_that_comes_before_its_message_waits_and_then_joins_its_conversation(
    crm: CustomerRelations,
) -> None:
    early = ingest(crm, [tweet("21", "brand", 5, "20", text="We are sorry, Dee")])

    parent = ingest(crm, [tweet("20", "@dee", 0, text="My card was charged twice")])
    again = ingest(crm, [tweet("21", "brand", 5, "20", text="We are sorry, Dee")])

    assert early[0].status == "pending" and early[0].conversation_id is None
    conversation = crm.get_conversation(parent[0].conversation_id)  # type: ignore[arg-type]
    assert [(m["external_id"], m["text"]) for m in conversation.messages] == [
        ("20", "My card was charged twice"),
        ("21", "We are sorry, Dee"),
    ]
    assert conversation.status == "pending"
    assert (again[0].status, again[0].conversation_id) == ("duplicate", conversation.id)


def test_a_late_message_that_joins_an_older_conversation_brings_the_conversation_its_reply_started(
    crm: CustomerRelations,
) -> None:
    ingest(crm, [tweet("1", "@ann", 0, text="My order never arrived")])
    reply_first = ingest(crm, [tweet("3", "@ann", 9, "2", text="Still nothing?")])  # answers 2, not here yet

    late = ingest(crm, [tweet("2", "brand", 5, "1")])

    survivor = crm.get_conversation(late[0].conversation_id)  # type: ignore[arg-type]
    merged = crm.get_conversation(reply_first[0].conversation_id)  # type: ignore[arg-type]
    assert [m["external_id"] for m in survivor.messages] == ["1", "2", "3"]
    assert survivor.status == "open"  # the customer wrote last
    assert merged.merged_into == survivor.id
    assert ingest(crm, [tweet("3", "@ann", 9, "2")])[0].conversation_id == survivor.id  # duplicates say where


def grouping(crm: CustomerRelations, outcomes: list[Outcome]) -> set[tuple[str, ...]]:
    """The conversations the messages ended in (after any merges), as their external ids."""
    ids = set()
    for outcome in outcomes:
        if outcome.conversation_id is not None:
            conversation = crm.get_conversation(outcome.conversation_id)
            while conversation.merged_into is not None:
                conversation = crm.get_conversation(conversation.merged_into)
            ids.add(conversation.id)
    return {tuple(m["external_id"] for m in crm.get_conversation(i).messages) for i in ids}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(THREADS))), cuts=st.sets(st.integers(1, len(THREADS) - 1)))
def test_any_arrival_order_in_any_batches_threads_as_the_order_the_messages_happened(
    order: list[int], cuts: set[int]
) -> None:
    in_order = CustomerRelations(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    shuffled = CustomerRelations(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    expected = grouping(in_order, ingest(in_order, THREADS))
    arriving = [THREADS[i] for i in order]
    bounds = [0, *sorted(cuts), len(arriving)]

    outcomes = [o for a, b in itertools.pairwise(bounds) for o in ingest(shuffled, arriving[a:b])]

    assert grouping(shuffled, outcomes) == expected
    customers = {o.customer_id for o in outcomes if o.customer_id is not None}
    assert len(customers) == 2


def test_a_reply_into_a_resolved_conversation_is_rejected_and_the_rest_of_the_batch_goes_on(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    outcomes = ingest(crm, [tweet("30", "@eve", 0)])
    crm.resolve_conversation(outcomes[0].conversation_id, admin_actor)  # type: ignore[arg-type]

    batch = ingest(crm, [tweet("31", "brand", 60, "30"), tweet("32", "@fay", 61)])

    assert [o.status for o in batch] == ["rejected", "created"]
    assert batch[0].reason is not None and "resolved" in batch[0].reason


def test_a_later_message_from_a_forgotten_customer_s_identity_starts_a_new_customer(
    crm: CustomerRelations, admin_actor: Actor
) -> None:
    first = ingest(crm, [tweet("40", "@gus", 0)])
    crm.forget_customer(first[0].customer_id, "asked", admin_actor)  # type: ignore[arg-type]

    again = ingest(crm, [tweet("41", "@gus", 60, "40")])

    assert again[0].status == "created"
    assert again[0].customer_id != first[0].customer_id
    assert again[0].conversation_id != first[0].conversation_id  # the old thread is not theirs


def test_a_merged_duplicates_identity_threads_into_the_survivor(crm: CustomerRelations, admin_actor: Actor) -> None:
    old = ingest(crm, [tweet("50", "@hal_old", 0)])
    survivor = crm.register_customer("Hal", [], None, None, admin_actor).aggregate
    crm.merge_customers(survivor.id, old[0].customer_id, admin_actor)  # type: ignore[arg-type]

    reply = ingest(crm, [tweet("51", "brand", 5, "50"), tweet("52", "@hal_old", 9, "51")])

    assert [o.conversation_id for o in reply] == [old[0].conversation_id] * 2
    assert reply[1].customer_id == survivor.id


def test_too_big_a_batch_is_refused(crm: CustomerRelations) -> None:
    with pytest.raises(RuleViolationError):
        ingest(crm, [tweet(str(n), "@ivy", n) for n in range(1001)])
