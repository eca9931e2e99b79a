"""GET /v1/customers/{id}/timeline: a customer's whole history, oldest first, in pages, discreet after forget."""

from __future__ import annotations

import base64
import json
from typing import Any
from uuid import uuid4

import pytest
from flask.testing import FlaskClient

from domain.application import CustomerRelations
from tests.conftest import ApiClient

PROBLEM = "application/problem+json"


# ---- helpers --------------------------------------------------------------------------------------


def register(client: ApiClient, name: str = "Dana Scully", handle: str = "@dana") -> Any:
    response = client.post(
        "/v1/customers", json={"name": name, "identities": [{"channel": "twitter", "handle": handle}]}
    )
    assert response.status_code == 201, response.json
    return response.json


def start_conversation(client: ApiClient, customer: Any, text: str, **extra: Any) -> Any:
    response = client.post(
        "/v1/conversations",
        json={"customer_id": customer["id"], "channel": "twitter", "message": {"text": text}, **extra},
    )
    assert response.status_code == 201, response.json
    return response.json


def submit_idea(client: ApiClient, customer: Any, title: str, body: str = "Please.") -> Any:
    response = client.post(
        "/v1/contributions", json={"customer_id": customer["id"], "kind": "idea", "title": title, "body": body}
    )
    assert response.status_code == 201, response.json
    return response.json


def timeline(client: ApiClient, customer: Any, **query: Any) -> Any:
    response = client.get(f"/v1/customers/{customer['id']}/timeline", query_string={"limit": 500, **query})
    assert response.status_code == 200, response.json
    return response.json


def entries(client: ApiClient, customer: Any) -> list[Any]:
    page = timeline(client, customer)
    assert page["next_cursor"] is None
    items: list[Any] = page["items"]
    return items


def cursor_of(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def assert_problem(response: Any, status: int, slug: str) -> Any:
    assert response.status_code == status, response.json
    assert response.content_type == PROBLEM
    body = response.json
    assert body["type"] == f"urn:conversa:problem:{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def agent_id(application: CustomerRelations, client: ApiClient) -> str:
    return str(application.authenticate(client.token).id)


# ---- what an entry says ---------------------------------------------------------------------------


def test_a_new_customer_has_one_entry_saying_who_registered_them(
    agent: ApiClient, application: CustomerRelations
) -> None:
    customer = register(agent)
    page = timeline(agent, customer)
    assert page["next_cursor"] is None
    [entry] = page["items"]
    assert entry["type"] == "customer.registered"
    assert entry["summary"] == "Registered as Dana Scully"
    assert entry["actor"] == {"kind": "agent", "id": agent_id(application, agent), "name": "Ann Agent"}
    assert entry["occurred_at"] == customer["registered_at"]
    assert entry["recorded_at"].endswith("+00:00")
    assert entry["aggregate_type"] == "customer"
    assert entry["aggregate_id"] == customer["id"]


def test_every_change_of_the_customer_has_an_entry_with_a_summary(agent: ApiClient) -> None:
    customer = register(agent)
    path = f"/v1/customers/{customer['id']}"
    agent.post(f"{path}/identities", json={"channel": "email", "handle": "dana@fbi.gov"})
    agent.patch(path, json={"name": "Dana K. Scully", "locale": "en"})
    agent.post(f"{path}/tags", json={"tag": "vip"})
    agent.delete(f"{path}/tags/vip")
    agent.put(f"{path}/consent", json={"given": True})
    agent.put(f"{path}/consent", json={"given": False})
    agent.post(f"{path}/nps", json={"score": 8})
    agent.delete(f"{path}/identities/email/dana@fbi.gov")
    assert [(e["type"], e["summary"]) for e in entries(agent, customer)] == [
        ("customer.registered", "Registered as Dana Scully"),
        ("customer.identity_linked", "Identity email:dana@fbi.gov linked"),
        ("customer.profile_updated", "Profile updated: locale, name"),
        ("customer.tagged", "Tagged vip"),
        ("customer.untagged", "Untagged vip"),
        ("customer.consent_given", "Marketing consent given"),
        ("customer.consent_withdrawn", "Marketing consent withdrawn"),
        ("customer.nps_given", "NPS 8"),
        ("customer.identity_unlinked", "Identity email:dana@fbi.gov unlinked"),
    ]


def test_conversation_and_contribution_events_of_the_customer_are_in_the_timeline(
    agent: ApiClient, application: CustomerRelations
) -> None:
    customer = register(agent)
    conversation = start_conversation(agent, customer, "Where is my parcel?", subject="Parcel")
    conversation_path = f"/v1/conversations/{conversation['id']}"
    assert agent.post(f"{conversation_path}/replies", json={"text": "On its way!"}).status_code == 201
    assert agent.post(f"{conversation_path}/notes", json={"text": "Checked with DHL"}).status_code == 201
    assert agent.post(f"{conversation_path}/resolve").status_code == 200
    idea = submit_idea(agent, customer, "Dark mode")
    status = agent.put(f"/v1/contributions/{idea['id']}/status", json={"status": "under_review"})
    assert status.status_code == 200, status.json

    items = entries(agent, customer)
    summaries = {(e["type"], e["summary"]) for e in items}
    assert {
        ("conversation.started", "Conversation started on twitter: Parcel"),
        ("conversation.message_received", "Message received: “Where is my parcel?”"),
        ("conversation.classified", "Classified as question (automatic)"),
        ("conversation.reply_sent", "Reply by Ann Agent: “On its way!”"),
        ("conversation.note_added", "Note: “Checked with DHL”"),
        ("conversation.resolved", "Resolved"),
        ("contribution.submitted", "Submitted idea: Dark mode"),
        ("contribution.status_changed", "Status submitted → under_review"),
    } <= summaries
    by_type = {e["type"]: e for e in items}
    assert by_type["conversation.reply_sent"]["aggregate_type"] == "conversation"
    assert by_type["conversation.reply_sent"]["aggregate_id"] == conversation["id"]
    assert by_type["contribution.submitted"]["aggregate_type"] == "contribution"
    assert by_type["contribution.submitted"]["aggregate_id"] == idea["id"]
    ann = {"kind": "agent", "id": agent_id(application, agent), "name": "Ann Agent"}
    assert by_type["conversation.reply_sent"]["actor"] == ann
    assert by_type["conversation.message_received"]["actor"] == {"kind": "customer", "id": customer["id"], "name": None}


def test_the_timeline_holds_only_the_customers_own_history(agent: ApiClient) -> None:
    dana = register(agent)
    fox = register(agent, name="Fox Mulder", handle="@fox")
    start_conversation(agent, fox, "The truth is out there")
    submit_idea(agent, fox, "More UFOs")
    items = entries(agent, dana)
    assert [e["type"] for e in items] == ["customer.registered"]
    assert {e["aggregate_id"] for e in entries(agent, fox)} >= {fox["id"]}
    assert dana["id"] not in {e["aggregate_id"] for e in entries(agent, fox)}


def test_the_timeline_is_oldest_first_by_when_things_happened_on_the_channel(agent: ApiClient) -> None:
    customer = register(agent)
    agent.post(f"/v1/customers/{customer['id']}/tags", json={"tag": "vip"})
    # Imports keep the channel's time: a conversation from 2020, recorded after the registration.
    start_conversation(agent, customer, "Old news", occurred_at="2020-03-01T09:00:00+01:00")
    agent.post(f"/v1/customers/{customer['id']}/nps", json={"score": 6, "occurred_at": "2021-01-01T00:00:00Z"})
    items = entries(agent, customer)
    moments = [e["occurred_at"] for e in items]
    assert moments == sorted(moments)
    assert [e["type"] for e in items][:3] == [
        "conversation.started",
        "conversation.message_received",
        "conversation.classified",
    ]
    assert items[0]["occurred_at"] == "2020-03-01T08:00:00+00:00"
    assert [e["type"] for e in items][-3:] == ["customer.nps_given", "customer.registered", "customer.tagged"]
    assert all(e["occurred_at"].endswith("+00:00") for e in items)


# ---- merged duplicates ----------------------------------------------------------------------------


def test_the_survivors_timeline_includes_the_history_of_its_merged_duplicates(agent: ApiClient) -> None:
    survivor = register(agent)
    duplicate = register(agent, name="D. Scully", handle="@dscully")
    conversation = start_conversation(agent, duplicate, "Hello from my other account")
    idea = submit_idea(agent, duplicate, "Single sign-on")
    response = agent.post(f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]})
    assert response.status_code == 200, response.json

    items = entries(agent, survivor)
    summaries = [e["summary"] for e in items]
    assert "Registered as D. Scully" in summaries
    assert "Message received: “Hello from my other account”" in summaries
    assert "Submitted idea: Single sign-on" in summaries
    assert f"Merged into customer {survivor['id']}" in summaries
    assert f"Duplicate customer {duplicate['id']} merged in" in summaries
    assert {e["aggregate_id"] for e in items} == {survivor["id"], duplicate["id"], conversation["id"], idea["id"]}
    moments = [(e["occurred_at"], e["recorded_at"]) for e in items]
    assert moments == sorted(moments)


def test_the_merged_duplicate_keeps_its_own_timeline(agent: ApiClient) -> None:
    survivor = register(agent)
    duplicate = register(agent, name="D. Scully", handle="@dscully")
    start_conversation(agent, duplicate, "Hello from my other account")
    before = entries(agent, duplicate)
    agent.post(f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]})
    after = entries(agent, duplicate)
    assert after[: len(before)] == before
    assert [e["type"] for e in after[len(before) :]] == ["customer.merged_into"]
    assert survivor["id"] not in {e["aggregate_id"] for e in after}


def test_the_timeline_includes_customers_merged_in_through_another_duplicate(agent: ApiClient) -> None:
    first = register(agent, name="Dana First", handle="@first")
    middle = register(agent, name="Dana Middle", handle="@middle")
    last = register(agent, name="Dana Last", handle="@last")
    start_conversation(agent, first, "Written from my first account")
    assert agent.post(f"/v1/customers/{middle['id']}/merge", json={"duplicate_id": first["id"]}).status_code == 200
    assert agent.post(f"/v1/customers/{last['id']}/merge", json={"duplicate_id": middle["id"]}).status_code == 200
    summaries = [e["summary"] for e in entries(agent, last)]
    assert "Registered as Dana Middle" in summaries
    assert "Registered as Dana First" in summaries
    assert "Message received: “Written from my first account”" in summaries


# ---- pages ----------------------------------------------------------------------------------------


def make_history(agent: ApiClient) -> Any:
    """A customer with a merged duplicate, conversations and contributions: 20-odd entries."""
    customer = register(agent)
    duplicate = register(agent, name="D. Scully", handle="@dscully")
    for number, who in enumerate([customer, duplicate, customer]):
        conversation = start_conversation(agent, who, f"Question {number}?")
        agent.post(f"/v1/conversations/{conversation['id']}/replies", json={"text": f"Answer {number}"})
    submit_idea(agent, duplicate, "Dark mode")
    for tag in ("a", "b", "c"):
        agent.post(f"/v1/customers/{customer['id']}/tags", json={"tag": tag})
    agent.post(f"/v1/customers/{customer['id']}/merge", json={"duplicate_id": duplicate["id"]})
    return customer


@pytest.mark.parametrize("limit", [1, 2, 7, 50])
def test_following_next_cursor_visits_every_entry_exactly_once_in_order(
    agent: ApiClient, application: CustomerRelations, limit: int
) -> None:
    customer = make_history(agent)
    everything = entries(agent, customer)
    assert len(everything) >= 20
    before = application.head_position

    visited: list[Any] = []
    cursor = None
    for _ in range(len(everything) + 1):
        page = timeline(agent, customer, limit=limit, **({"cursor": cursor} if cursor else {}))
        assert 1 <= len(page["items"]) <= limit
        visited += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert visited == everything
    assert len({(e["aggregate_id"], e["recorded_at"], e["type"]) for e in visited}) == len(everything)
    assert application.head_position == before


def test_the_last_page_has_no_next_cursor(agent: ApiClient) -> None:
    customer = register(agent)
    agent.post(f"/v1/customers/{customer['id']}/tags", json={"tag": "vip"})
    first = timeline(agent, customer, limit=1)
    assert [e["type"] for e in first["items"]] == ["customer.registered"]
    assert isinstance(first["next_cursor"], str)
    second = timeline(agent, customer, limit=1, cursor=first["next_cursor"])
    assert [e["type"] for e in second["items"]] == ["customer.tagged"]
    assert second["next_cursor"] is None
    exact = timeline(agent, customer, limit=2)
    assert len(exact["items"]) == 2 and exact["next_cursor"] is None


def test_a_page_of_the_default_size_holds_fifty_entries(agent: ApiClient) -> None:
    customer = register(agent)
    for number in range(50):
        agent.post(f"/v1/customers/{customer['id']}/tags", json={"tag": f"t{number}"})
    response = agent.get(f"/v1/customers/{customer['id']}/timeline")
    assert len(response.json["items"]) == 50
    rest = agent.get(f"/v1/customers/{customer['id']}/timeline", query_string={"cursor": response.json["next_cursor"]})
    assert [e["summary"] for e in rest.json["items"]] == ["Tagged t49"]


FORGED_CURSORS = [
    pytest.param("!!!not base64!!!", id="not base64"),
    pytest.param("e30", id="an object"),  # base64 of {}
    pytest.param(cursor_of([1, 2, "x"]), id="too short"),
    pytest.param(cursor_of([1, 2, "x", 3, 4]), id="too long"),
    pytest.param(cursor_of(["1", 2, "x", 3]), id="string for a number"),
    pytest.param(cursor_of([1.5, 2, "x", 3]), id="float for an integer"),
    pytest.param(cursor_of([True, 2, "x", 3]), id="boolean for an integer"),
    pytest.param(cursor_of([1, 2, None, 3]), id="null for the id"),
    pytest.param(cursor_of("a string"), id="a string"),
]


@pytest.mark.parametrize("cursor", FORGED_CURSORS)
def test_a_forged_cursor_is_a_422_problem_pointing_at_the_cursor(agent: ApiClient, cursor: str) -> None:
    customer = register(agent)
    response = agent.get(f"/v1/customers/{customer['id']}/timeline", query_string={"cursor": cursor})
    body = assert_problem(response, 422, "validation")
    assert [(e["location"], e["pointer"]) for e in body["errors"]] == [("query", "/cursor")]


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten", "2.5"])
def test_a_limit_outside_1_to_500_is_a_422_problem_pointing_at_the_limit(agent: ApiClient, limit: str) -> None:
    customer = register(agent)
    response = agent.get(f"/v1/customers/{customer['id']}/timeline", query_string={"limit": limit})
    body = assert_problem(response, 422, "validation")
    assert [(e["location"], e["pointer"]) for e in body["errors"]] == [("query", "/limit")]


# ---- forgotten customers --------------------------------------------------------------------------

SECRETS = {
    "name": "Dana Scully",
    "email": "dana@fbi.gov",
    "message": "My card 4111 1111 1111 1111 was charged twice",
    "subject": "Refund for Dana",
    "reply": "Sorry Dana, refunded",
    "note": "She lives at 42 Elm St",
    "escalation": "Calls herself Starbuck",
    "nps": "I love you guys, Dana",
    "idea": "Dana's dark mode",
}


def test_summaries_hide_personal_text_once_the_customer_is_forgotten(
    admin: ApiClient, agent: ApiClient, application: CustomerRelations
) -> None:
    customer = register(agent)
    path = f"/v1/customers/{customer['id']}"
    agent.post(f"{path}/identities", json={"channel": "email", "handle": SECRETS["email"]})
    conversation = start_conversation(agent, customer, SECRETS["message"], subject=SECRETS["subject"])
    conversation_path = f"/v1/conversations/{conversation['id']}"
    agent.post(f"{conversation_path}/replies", json={"text": SECRETS["reply"]})
    agent.post(f"{conversation_path}/notes", json={"text": SECRETS["note"]})
    agent.post(f"{conversation_path}/escalate", json={"reason": SECRETS["escalation"]})
    agent.post(f"{path}/nps", json={"score": 10, "comment": SECRETS["nps"]})
    submit_idea(agent, customer, SECRETS["idea"])
    before = entries(agent, customer)
    assert all(any(secret in e["summary"] for e in before) for secret in SECRETS.values())

    assert admin.post(f"{path}/forget", json={"reason": "GDPR request"}).status_code == 200
    after = entries(agent, customer)
    assert len(after) == len(before) + 1
    leaks = [(e["type"], e["summary"]) for e in after for secret in SECRETS.values() if secret in e["summary"]]
    assert leaks == []
    summaries = {e["type"]: e["summary"] for e in after}
    assert summaries["customer.registered"] == "Registered as [forgotten]"
    assert summaries["customer.identity_linked"] == "Identity email:[forgotten] linked"
    assert summaries["conversation.started"] == "Conversation started on twitter: [forgotten]"
    assert summaries["conversation.message_received"] == "Message received: “[forgotten]”"
    assert summaries["conversation.reply_sent"] == "Reply by Ann Agent: “[forgotten]”"
    assert summaries["conversation.note_added"] == "Note: “[forgotten]”"
    assert summaries["conversation.escalated"] == "Escalated: [forgotten]"
    assert summaries["customer.nps_given"] == "NPS 10: “[forgotten]”"
    assert summaries["contribution.submitted"] == "Submitted idea: [forgotten]"
    assert after[-1]["type"] == "customer.forgotten"
    assert after[-1]["summary"] == "Personal data erased on request"
    assert after[-1]["actor"]["name"] == "admin"
    # what happened, and when, stays
    assert [(e["type"], e["occurred_at"]) for e in after[:-1]] == [(e["type"], e["occurred_at"]) for e in before]


def test_the_history_of_merged_duplicates_is_hidden_when_the_survivor_is_forgotten(admin: ApiClient) -> None:
    survivor = register(admin)
    duplicate = register(admin, name="Dana K. Scully", handle="@dks")
    start_conversation(admin, duplicate, "Calls herself Starbuck")
    admin.post(f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]})
    admin.post(f"/v1/customers/{survivor['id']}/forget", json={})
    summaries = [e["summary"] for e in entries(admin, survivor)]
    assert not [s for s in summaries if "Dana" in s or "Starbuck" in s]
    assert summaries.count("Registered as [forgotten]") == 2


def test_a_forgotten_duplicate_stays_hidden_in_its_survivors_timeline(admin: ApiClient) -> None:
    survivor = register(admin)
    duplicate = register(admin, name="Paula Private", handle="@paula")
    start_conversation(admin, duplicate, "My address is 42 Elm St")
    admin.post(f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]})
    assert admin.post(f"/v1/customers/{duplicate['id']}/forget", json={}).status_code == 200
    summaries = [e["summary"] for e in entries(admin, survivor)]
    assert "Registered as Dana Scully" in summaries
    assert not [s for s in summaries if "Paula" in s or "Elm St" in s]


# ---- errors and roles -----------------------------------------------------------------------------


def test_reading_a_timeline_records_nothing(agent: ApiClient, application: CustomerRelations) -> None:
    customer = make_history(agent)
    before = application.head_position
    assert len(entries(agent, customer)) > 1
    assert application.head_position == before


def test_the_timeline_of_an_unknown_customer_is_a_404_problem(agent: ApiClient) -> None:
    missing = str(uuid4())
    assert missing in assert_problem(agent.get(f"/v1/customers/{missing}/timeline"), 404, "not-found")["detail"]
    assert_problem(agent.get("/v1/customers/not-a-uuid/timeline"), 404, "not-found")


def test_marketing_reads_timelines_and_integration_may_not(agent: ApiClient, as_role: Any) -> None:
    customer = register(agent)
    assert timeline(as_role("marketing"), customer)["items"][0]["type"] == "customer.registered"
    assert_problem(as_role("integration").get(f"/v1/customers/{customer['id']}/timeline"), 403, "forbidden")


@pytest.mark.parametrize("authorization", [None, "Bearer wrong"])
def test_the_timeline_needs_a_valid_token(agent: ApiClient, client: FlaskClient, authorization: str | None) -> None:
    customer = register(agent)
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get(f"/v1/customers/{customer['id']}/timeline", headers=headers)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
