"""The event feed (issue 6): integration events, not internal ones, paged through the whole log."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate
from flask import Flask
from jsonschema import Draft202012Validator

import domain
from domain.actor import SYSTEM, Actor
from domain.application import CustomerRelations, InboundMessage
from domain.personal_data import FORGOTTEN
from projections.integration_events import INTERNAL, PUBLISHED, TYPES
from service.app import openapi_document
from tests.api.test_errors import assert_problem
from tests.conftest import ApiClient

# What every_kind_of_event records, as integration types in log order (notes, agents, index
# aggregates and the survivor's side of the merge are internal and do not appear).
EXPECTED_TYPES = [
    "customer.registered",
    "customer.updated",
    "customer.identity_linked",
    "customer.identity_unlinked",
    "customer.tagged",
    "customer.untagged",
    "customer.consent_changed",
    "customer.consent_changed",
    "nps.given",
    "conversation.started",
    "message.received",
    "conversation.classified",  # automatic: a complaint...
    "conversation.priority_changed",  # ...starts high
    "reply.sent",
    "conversation.classified",  # by the agent: a question...
    "conversation.priority_changed",  # ...goes back to medium
    "conversation.priority_changed",
    "conversation.assigned",
    "conversation.unassigned",
    "conversation.escalated",
    "conversation.resolved",
    "csat.rated",
    "conversation.reopened",
    "message.retracted",
    "conversation.resolved",
    "conversation.reopened",  # automatically, by the customer's new message
    "message.received",
    "conversation.started",
    "message.received",
    "conversation.classified",
    "conversation.merged",  # the survivor's side of it ("absorbed") is internal
    "customer.registered",
    "contribution.submitted",
    "contribution.endorsed",
    "contribution.status_changed",
    "contribution.rewarded",
    "contribution.referral_converted",
    "customer.registered",
    "customer.merged",
    "customer.forgotten",
]


def every_kind_of_event(application: CustomerRelations) -> dict[str, UUID]:
    """A history with every integration type, and internal events between them."""
    written, _ = application.register_agent("Ann Agent", "agent")
    ann = written.aggregate
    agent = Actor(kind="agent", id=ann.id, name=ann.name)
    dana = application.register_customer(
        "Dana Scully", [{"channel": "twitter", "handle": "@dana"}], "dana@example.com", "en", actor=SYSTEM
    ).aggregate.id
    application.update_customer_profile(dana, {"email": "scully@example.com", "locale": "fr"}, actor=agent)
    application.link_identity(dana, "email", "dana@fbi.example", actor=agent)
    application.unlink_identity(dana, "email", "dana@fbi.example", actor=agent)
    application.tag_customer(dana, "vip", actor=agent)
    application.untag_customer(dana, "vip", actor=agent)
    application.set_marketing_consent(dana, True, "web form", actor=agent)
    application.set_marketing_consent(dana, False, "e-mail", actor=agent)
    application.give_nps(dana, 9, "Great people")
    conversation = application.start_conversation(
        dana,
        "twitter",
        "Broken parcel",
        "public",
        actor=SYSTEM,
        message=InboundMessage(text="My parcel arrived broken. Terrible service!", external_id="tw-1"),
    ).aggregate.id
    replied = application.send_reply(conversation, "Sorry Dana, a new one ships today", actor=agent)
    reply = replied.aggregate.messages[-1]["id"]
    application.add_note(conversation, "Call her back", actor=agent)
    application.classify_conversation(conversation, "question", actor=agent)
    application.change_priority(conversation, "urgent", actor=agent)
    application.assign_conversation(conversation, ann.id, actor=agent)
    application.assign_conversation(conversation, None, actor=agent)
    application.escalate_conversation(conversation, "Angry on Twitter", actor=agent)
    application.resolve_conversation(conversation, actor=agent)
    application.rate_satisfaction(conversation, 4, "Fast")
    application.reopen_conversation(conversation, actor=agent)
    application.retract_message(conversation, reply, "Sent too early", actor=agent)
    application.resolve_conversation(conversation, actor=agent)
    application.receive_message(conversation, InboundMessage(text="It broke again?"))
    # A second thread that turns out to continue the first (ingest finds this when a message arrives late).
    second = application.start_conversation(
        dana, "twitter", None, "public", actor=SYSTEM, message=InboundMessage(text="The lid too.")
    ).aggregate.id
    survivor, continued = application.get_conversation(conversation), application.get_conversation(second)
    survivor.absorb(continued, occurred_at=datetime.now(UTC), actor=SYSTEM.as_dict())
    application.save(survivor, continued)
    fox = application.register_customer("Fox Mulder", [], None, None, actor=SYSTEM).aggregate.id
    contribution = application.submit_contribution(
        dana, "referral", "Tell Fox", "He needs this", None, "@fox", actor=SYSTEM
    ).aggregate.id
    application.endorse_contribution(contribution, fox, actor=agent)
    application.change_contribution_status(contribution, "under_review", "Looking at it", actor=agent)
    application.reward_contribution(contribution, "A mug", actor=agent)
    application.convert_referral(contribution, fox, actor=agent)
    duplicate = application.register_customer("D. Scully", [], None, None, actor=SYSTEM).aggregate.id
    application.merge_customers(dana, duplicate, actor=agent)
    application.forget_customer(fox, "asked by e-mail", actor=agent)
    return {
        "ann": ann.id,
        "dana": dana,
        "fox": fox,
        "duplicate": duplicate,
        "conversation": conversation,
        "second": second,
        "reply": reply,
        "contribution": contribution,
    }


@pytest.fixture
def integration(as_role: Any) -> ApiClient:
    client: ApiClient = as_role("integration", "Connector")
    return client


def read_all(client: ApiClient, limit: int, after: int = 0, query: str = "") -> Iterator[dict[str, Any]]:
    """Every page from a position until the feed says there is no more."""
    while True:
        response = client.get(f"/v1/events?after={after}&limit={limit}{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        page: dict[str, Any] = response.json
        yield page
        after = page["next_after"]
        if not page["has_more"]:
            return


def items(pages: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page["items"]]


# ---- paging ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 500])
def test_pages_cover_every_position_of_the_log_exactly_once(
    application: CustomerRelations, integration: ApiClient, limit: int
) -> None:
    every_kind_of_event(application)
    head = application.head_position
    after, seen = 0, []
    for page in read_all(integration, limit):
        assert len(page["items"]) <= limit
        ids = [item["id"] for item in page["items"]]
        assert all(after < i <= page["next_after"] for i in ids), (after, ids, page["next_after"])
        assert page["next_after"] >= after
        after = page["next_after"]
        seen += ids
    assert after == head  # the pages end at the head, past the trailing internal events too
    assert seen == sorted(set(seen))  # increasing: no event twice, none out of order
    published = [
        n.id
        for n in application.recorder.select_notifications(start=1, limit=head)
        if n.topic.split(":")[1] in PUBLISHED
    ]
    assert seen == published
    assert len(seen) < head  # internal events were passed over, not listed


def test_types_and_payloads_are_the_integration_events_not_the_internal_ones(
    application: CustomerRelations, integration: ApiClient
) -> None:
    ids = every_kind_of_event(application)
    events = items(read_all(integration, 7))
    assert [event["type"] for event in events] == EXPECTED_TYPES
    assert set(EXPECTED_TYPES) == set(TYPES)  # the scenario shows every type at least once
    assert all(event["version"] == 1 for event in events)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
        assert set(event) == {"id", "type", "version", "occurred_at", "recorded_at", "actor", "payload"}
        assert event["occurred_at"].endswith("+00:00") and event["recorded_at"].endswith("+00:00")
    dana, conversation = str(ids["dana"]), str(ids["conversation"])
    assert by_type["customer.registered"][0]["payload"] == {
        "customer_id": dana,
        "name": "Dana Scully",
        "email": "dana@example.com",
        "locale": "en",
        "identities": [{"channel": "twitter", "handle": "@dana"}],
    }
    assert by_type["customer.updated"][0]["payload"] == {
        "customer_id": dana,
        "changes": {"email": "scully@example.com", "locale": "fr"},
    }
    assert [e["payload"]["marketing_consent"] for e in by_type["customer.consent_changed"]] == [True, False]
    first_message = by_type["message.received"][0]
    assert first_message["payload"]["text"] == "My parcel arrived broken. Terrible service!"
    assert first_message["payload"]["external_id"] == "tw-1"
    assert first_message["payload"]["sentiment"]["compound"] < -0.35
    assert first_message["payload"]["sentiment"]["analyser"] == "vaderSentiment"
    assert first_message["actor"] == {"kind": "customer", "id": dana, "name": None}
    reply = by_type["reply.sent"][0]
    assert reply["payload"]["author"] == {"id": str(ids["ann"]), "name": "Ann Agent"}
    assert reply["payload"]["message_id"] == str(ids["reply"])
    assert by_type["message.retracted"][0]["payload"]["reason"] == "Sent too early"
    # Events that do not carry the customer still name them (learnt from the conversation's start).
    for kind in ("conversation.resolved", "conversation.assigned", "csat.rated", "conversation.reopened"):
        for event in by_type[kind]:
            assert event["payload"]["conversation_id"] == conversation
            assert event["payload"]["customer_id"] == dana
    assert by_type["conversation.assigned"][0]["payload"]["assignee"] == {"id": str(ids["ann"]), "name": "Ann Agent"}
    assert [e["payload"]["automatic"] for e in by_type["conversation.reopened"]] == [False, True]
    assert by_type["csat.rated"][0]["payload"]["rating"] == 4
    assert by_type["contribution.endorsed"][0]["payload"] == {
        "contribution_id": str(ids["contribution"]),
        "customer_id": dana,
        "endorser_id": str(ids["fox"]),
    }
    assert by_type["contribution.status_changed"][0]["payload"]["previous"] == "submitted"
    assert by_type["customer.merged"][0]["payload"] == {"customer_id": str(ids["duplicate"]), "survivor_id": dana}
    assert by_type["conversation.merged"][0]["payload"] == {
        "conversation_id": str(ids["second"]),
        "customer_id": dana,
        "survivor_id": conversation,
    }
    assert by_type["customer.forgotten"][0]["payload"] == {"customer_id": str(ids["fox"])}


def test_every_item_matches_its_schema_in_the_contract(
    app: Flask, application: CustomerRelations, integration: ApiClient
) -> None:
    every_kind_of_event(application)
    document = openapi_document(app)
    feed = document["paths"]["/v1/events"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    checker = Draft202012Validator.FORMAT_CHECKER
    page_validator = Draft202012Validator({**document, **feed}, format_checker=checker)
    for page in read_all(integration, 10):
        page_validator.validate(page)
        for item in page["items"]:
            # Each against its own type's schema too: the discriminator's mapping is right.
            target = feed["properties"]["items"]["items"]["discriminator"]["mapping"][item["type"]]
            Draft202012Validator({**document, "$ref": target}, format_checker=checker).validate(item)


def test_a_documented_field_that_the_feed_lacks_fails_the_schema_check(
    app: Flask, application: CustomerRelations, integration: ApiClient
) -> None:
    """The schema check above can fail: additional or missing fields are refused."""
    every_kind_of_event(application)
    document = openapi_document(app)
    item = next(read_all(integration, 1))["items"][0]
    validator = Draft202012Validator({**document, "$ref": "#/components/schemas/CustomerRegisteredEvent"})
    assert validator.is_valid(item)
    assert not validator.is_valid({**item, "payload": {**item["payload"], "nickname": "Dee"}})
    assert not validator.is_valid({**item, "payload": {k: v for k, v in item["payload"].items() if k != "email"}})


def test_a_type_filter_returns_only_those_types_and_still_reaches_the_head(
    application: CustomerRelations, integration: ApiClient
) -> None:
    every_kind_of_event(application)
    pages = list(read_all(integration, 2, query="&type=message.received&type=reply.sent"))
    assert [e["type"] for page in pages for e in page["items"]] == [
        "message.received",
        "reply.sent",
        "message.received",
        "message.received",
    ]
    assert pages[-1]["next_after"] == application.head_position


def test_internal_events_advance_the_position_without_items(
    application: CustomerRelations, integration: ApiClient, admin: ApiClient
) -> None:
    every_kind_of_event(application)
    head = application.head_position
    assert admin.post("/v1/agents", json={"name": "Another", "role": "agent"}).status_code == 201
    assert application.head_position > head
    page = integration.get(f"/v1/events?after={head}").json
    assert page == {"items": [], "next_after": application.head_position, "has_more": False}


def test_a_full_page_says_there_is_more_and_the_end_of_the_log_says_not(
    application: CustomerRelations, integration: ApiClient
) -> None:
    every_kind_of_event(application)
    first = integration.get("/v1/events?limit=2").json
    assert len(first["items"]) == 2 and first["has_more"] is True
    assert first["next_after"] == first["items"][-1]["id"]
    end = integration.get(f"/v1/events?after={application.head_position}").json
    assert end == {"items": [], "next_after": application.head_position, "has_more": False}
    beyond = integration.get(f"/v1/events?after={application.head_position + 10}").json
    assert beyond["items"] == [] and beyond["next_after"] == application.head_position + 10


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=501", "after=-1", "after=x", "type=message.sent", "type=Customer.Registered", "cursor=x"],
)
def test_bad_feed_arguments_are_refused(integration: ApiClient, query: str) -> None:
    assert_problem(integration.get(f"/v1/events?{query}"), 422, "validation")


def test_the_feed_answers_compact_json_built_from_the_items_own_bytes(
    application: CustomerRelations, integration: ApiClient, app: Flask
) -> None:
    every_kind_of_event(application)
    feed = app.extensions["conversa"].integration_feed()
    expected = feed.read(0, 5)
    body = integration.get("/v1/events?limit=5").get_data()
    assert body == (
        b'{"items":['
        + b",".join(item.body for item in expected.items)
        + b'],"next_after":'
        + str(expected.next_after).encode()
        + b',"has_more":true}'
    )


# ---- erasure ----------------------------------------------------------------------------------------


def test_a_forgotten_customers_texts_read_forgotten_and_their_ids_stay(
    application: CustomerRelations, integration: ApiClient, admin: ApiClient
) -> None:
    customer = admin.post(
        "/v1/customers",
        json={"name": "Zebulon Q", "identities": [{"channel": "twitter", "handle": "@zq"}], "email": "zq@example.com"},
    ).json["id"]
    conversation = admin.post(
        "/v1/conversations",
        json={"customer_id": customer, "channel": "twitter", "subject": "Lamp", "message": {"text": "Lamp broke"}},
    ).json["id"]
    assert admin.post(f"/v1/conversations/{conversation}/replies", json={"text": "Sorry Zebulon"}).status_code == 201
    before = items(read_all(integration, 100))
    assert before[0]["payload"]["name"] == "Zebulon Q"
    assert admin.post(f"/v1/customers/{customer}/forget", json={"reason": "asked"}).status_code == 200
    after = items(read_all(integration, 100))
    assert [e["id"] for e in after[: len(before)]] == [e["id"] for e in before]
    registered, started, received, *_ = after
    assert registered["payload"] == {
        "customer_id": customer,
        "name": FORGOTTEN,
        "email": FORGOTTEN,
        "locale": None,
        "identities": [{"channel": "twitter", "handle": FORGOTTEN}],
    }
    assert started["payload"]["subject"] == FORGOTTEN and started["payload"]["channel"] == "twitter"
    assert received["payload"]["text"] == FORGOTTEN
    assert received["payload"]["sentiment"] == before[2]["payload"]["sentiment"]  # not personal: kept
    reply = next(e for e in after if e["type"] == "reply.sent")
    assert reply["payload"]["text"] == FORGOTTEN
    assert after[-1]["type"] == "customer.forgotten"
    assert after[-1]["payload"] == {"customer_id": customer}
    text = integration.get("/v1/events?limit=500").get_data(as_text=True)
    assert "Zebulon" not in text and "zq@example.com" not in text and "@zq" not in text


# ---- the mapping table --------------------------------------------------------------------------------


def _domain_event_classes() -> set[str]:
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")

    def subclasses(cls: type[Any]) -> Iterator[type[Any]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return {
        f"{aggregate.__qualname__}.{name}"
        for aggregate in subclasses(Aggregate)
        if aggregate.__module__.startswith("domain.")
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, Aggregate.Event) and name not in ("Event", "Created")
    }


def test_every_internal_event_class_is_either_published_or_deliberately_internal() -> None:
    """A new event class must be given an integration meaning (or declared internal) on purpose."""
    classes = _domain_event_classes()
    assert "Customer.Registered" in classes and "Dossier.Opened" in classes
    assert not set(PUBLISHED) & INTERNAL
    undecided = classes - set(PUBLISHED) - INTERNAL
    assert not undecided, f"decide whether these are integration events: {sorted(undecided)}"
    assert set(PUBLISHED) | INTERNAL <= classes  # no entry for a class that does not exist


def test_only_integrations_and_admins_read_the_feed(as_role: Any) -> None:
    for role in ("agent", "marketing"):
        assert_problem(as_role(role).get("/v1/events"), 403, "forbidden")
    assert as_role("integration").get("/v1/events").status_code == 200
