"""Conversations and contributions over HTTP: the support flow, its rules, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from domain.application import CustomerRelations
from tests.api.test_customer_endpoints import assert_problem, register
from tests.conftest import ApiClient

COMPLAINT = "My parcel arrived broken and nobody answers. Terrible service!"
QUESTION = "When does the shop open on Sunday?"


def start(client: ApiClient, customer_id: str, text: str | None = QUESTION, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"customer_id": customer_id, "channel": "twitter", **extra}
    if text is not None:
        body["message"] = {"text": text}
    response = client.post("/v1/conversations", json=body)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


@pytest.fixture
def customer(agent: ApiClient) -> dict[str, Any]:
    return register(agent)


def test_a_complaint_is_classified_at_its_first_message_and_starts_high(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    conversation = start(agent, customer["id"], COMPLAINT)
    assert (conversation["kind"], conversation["kind_source"], conversation["priority"]) == (
        "complaint",
        "automatic",
        "high",
    )
    message = conversation["messages"][0]
    assert message["direction"] == "inbound"
    assert message["sentiment"]["compound"] <= -0.35
    assert message["sentiment"]["analyser"] == "vaderSentiment"
    assert message["author"] == {"kind": "customer", "id": customer["id"], "name": None}


def test_a_question_starts_medium_with_a_first_response_target_of_four_hours(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    conversation = start(agent, customer["id"], QUESTION, occurred_at="2026-03-01T10:00:00+00:00")
    assert (conversation["kind"], conversation["priority"]) == ("question", "medium")
    assert conversation["first_response_due_at"].startswith("2026-03-01T14:00:00")
    assert conversation["resolution_due_at"].startswith("2026-03-04T10:00:00")


def test_a_reply_is_signed_by_the_agent_and_waits_for_the_customer(agent: ApiClient, customer: dict[str, Any]) -> None:
    conversation = start(agent, customer["id"], QUESTION, occurred_at="2026-03-01T10:00:00+00:00")
    response = agent.post(
        f"/v1/conversations/{conversation['id']}/replies",
        json={"text": "From 10 to 16.", "occurred_at": "2026-03-01T10:30:00+00:00"},
    )
    assert response.status_code == 201
    assert response.json["status"] == "pending"
    assert response.json["messages"][-1]["author"]["name"] == "Ann Agent"
    assert response.json["first_response_seconds"] == 1800


def test_a_message_after_resolution_reopens_the_conversation(agent: ApiClient, customer: dict[str, Any]) -> None:
    conversation = start(agent, customer["id"])
    agent.post(f"/v1/conversations/{conversation['id']}/resolve")
    reopened = agent.post(f"/v1/conversations/{conversation['id']}/messages", json={"text": "It broke again"})
    assert reopened.status_code == 201
    assert reopened.json["status"] == "open"
    timeline = agent.get(f"/v1/customers/{customer['id']}/timeline").json["items"]
    assert "conversation.reopened" in [entry["type"] for entry in timeline]


def test_a_channel_message_is_recorded_once(
    agent: ApiClient, customer: dict[str, Any], application: CustomerRelations
) -> None:
    conversation = start(agent, customer["id"], None)
    url = f"/v1/conversations/{conversation['id']}/messages"
    assert agent.post(url, json={"text": "Hello", "external_id": "tw-1"}).status_code == 201
    before = application.head_position
    assert_problem(agent.post(url, json={"text": "Hello", "external_id": "tw-1"}), 409, "duplicate-message")
    assert application.head_position == before


def test_replying_to_a_resolved_conversation_asks_to_reopen_it_first(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    conversation = start(agent, customer["id"])
    agent.post(f"/v1/conversations/{conversation['id']}/resolve")
    assert_problem(agent.post(f"/v1/conversations/{conversation['id']}/replies", json={"text": "Hi"}), 409, "conflict")
    assert agent.post(f"/v1/conversations/{conversation['id']}/reopen").json["status"] == "open"
    assert agent.post(f"/v1/conversations/{conversation['id']}/replies", json={"text": "Hi"}).status_code == 201


def test_a_reply_to_an_unknown_conversation_is_a_404_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    before = application.head_position
    response = agent.post("/v1/conversations/00000000-0000-4000-8000-000000000000/replies", json={"text": "Hi"})
    assert_problem(response, 404, "not-found")
    assert application.head_position == before


def test_resolving_twice_and_reopening_an_open_conversation_are_illegal(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    conversation = start(agent, customer["id"])
    assert_problem(agent.post(f"/v1/conversations/{conversation['id']}/reopen"), 409, "illegal-transition")
    agent.post(f"/v1/conversations/{conversation['id']}/resolve")
    assert_problem(agent.post(f"/v1/conversations/{conversation['id']}/resolve"), 409, "illegal-transition")


def test_csat_comes_once_per_resolution_and_only_after_one(
    agent: ApiClient, customer: dict[str, Any], application: CustomerRelations
) -> None:
    conversation = start(agent, customer["id"])
    url = f"/v1/conversations/{conversation['id']}/csat"
    before = application.head_position
    assert_problem(agent.post(url, json={"rating": 5}), 409, "conflict")
    assert application.head_position == before
    agent.post(f"/v1/conversations/{conversation['id']}/resolve")
    rated = agent.post(url, json={"rating": 4, "comment": "Quick"})
    assert rated.status_code == 201 and rated.json["csat"][0]["rating"] == 4
    assert_problem(agent.post(url, json={"rating": 5}), 409, "conflict")


@pytest.mark.parametrize("rating", [0, 6, "5", 4.5])
def test_csat_outside_1_to_5_is_refused(agent: ApiClient, customer: dict[str, Any], rating: Any) -> None:
    conversation = start(agent, customer["id"])
    agent.post(f"/v1/conversations/{conversation['id']}/resolve")
    assert_problem(
        agent.post(f"/v1/conversations/{conversation['id']}/csat", json={"rating": rating}), 422, "validation"
    )


def test_an_agents_classification_and_priority_win_over_automatic_ones(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    conversation = start(agent, customer["id"], None)
    url = f"/v1/conversations/{conversation['id']}"
    agent.put(f"{url}/classification", json={"kind": "idea"})
    agent.put(f"{url}/priority", json={"priority": "low"})
    after = agent.post(f"{url}/messages", json={"text": COMPLAINT}).json
    assert (after["kind"], after["kind_source"], after["priority"]) == ("idea", "agent", "low")


def test_assigning_needs_an_active_support_agent(
    agent: ApiClient, as_role: Any, admin: ApiClient, customer: dict[str, Any]
) -> None:
    conversation = start(agent, customer["id"])
    url = f"/v1/conversations/{conversation['id']}/assignee"
    agents = admin.get("/v1/agents").json["items"]
    ann = next(a for a in agents if a["name"] == "Ann Agent")
    assigned = agent.put(url, json={"agent_id": ann["id"]})
    assert assigned.json["assignee"] == {"id": ann["id"], "name": "Ann Agent"}
    marketing = as_role("marketing", "Mark Eting")
    mark = next(a for a in admin.get("/v1/agents").json["items"] if a["name"] == "Mark Eting")
    assert_problem(agent.put(url, json={"agent_id": mark["id"]}), 422, "rule-violation")
    assert_problem(agent.put(url, json={"agent_id": "00000000-0000-4000-8000-000000000000"}), 404, "not-found")
    assert agent.put(url, json={"agent_id": None}).json["assignee"] is None
    assert marketing.get(f"/v1/conversations/{conversation['id']}").status_code == 403


def test_a_retracted_message_stays_in_history_marked_with_who_and_why(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    conversation = start(agent, customer["id"])
    reply = agent.post(f"/v1/conversations/{conversation['id']}/replies", json={"text": "Wrong customer, sorry"}).json
    message_id = reply["messages"][-1]["id"]
    retracted = agent.post(
        f"/v1/conversations/{conversation['id']}/messages/{message_id}/retract", json={"reason": "sent to wrong thread"}
    )
    message = retracted.json["messages"][-1]
    assert message["retracted"] is True
    assert message["text"] == "Wrong customer, sorry"
    assert message["retraction"]["reason"] == "sent to wrong thread"
    assert message["retraction"]["actor"]["name"] == "Ann Agent"
    unknown = f"/v1/conversations/{conversation['id']}/messages/00000000-0000-4000-8000-000000000000/retract"
    assert_problem(agent.post(unknown, json={"reason": "x"}), 404, "not-found")


def test_notes_and_escalations_are_signed(agent: ApiClient, customer: dict[str, Any]) -> None:
    conversation = start(agent, customer["id"])
    noted = agent.post(f"/v1/conversations/{conversation['id']}/notes", json={"text": "VIP, be quick"}).json
    assert noted["notes"][0]["author"]["name"] == "Ann Agent"
    escalated = agent.post(f"/v1/conversations/{conversation['id']}/escalate", json={"reason": "legal threat"}).json
    assert escalated["escalation"]["reason"] == "legal threat"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"text": "x" * 10_001}, "/text"),
        ({"text": ""}, "/text"),
        ({"text": "hi", "occurred_at": "2024-01-01T10:00:00"}, "/occurred_at"),
        ({"text": "hi", "sentiment": 1}, "/sentiment"),
    ],
)
def test_bad_messages_are_refused_and_record_nothing(
    agent: ApiClient,
    customer: dict[str, Any],
    application: CustomerRelations,
    body: dict[str, Any],
    pointer: str,
) -> None:
    conversation = start(agent, customer["id"])
    before = application.head_position
    response = agent.post(f"/v1/conversations/{conversation['id']}/messages", json=body)
    assert_problem(response, 422, "validation")
    assert pointer in [error["pointer"] for error in response.json["errors"]]
    assert application.head_position == before


def submit(client: ApiClient, customer_id: str, kind: str = "idea", **extra: Any) -> Any:
    return client.post(
        "/v1/contributions",
        json={"customer_id": customer_id, "kind": kind, "title": "Dark mode", "body": "Please", **extra},
    )


def test_a_review_needs_a_rating_and_only_a_review_has_one(agent: ApiClient, customer: dict[str, Any]) -> None:
    assert_problem(submit(agent, customer["id"], "review"), 422, "rule-violation")
    assert_problem(submit(agent, customer["id"], "idea", rating=4), 422, "rule-violation")
    assert_problem(submit(agent, customer["id"], "referral"), 422, "rule-violation")
    review = submit(agent, customer["id"], "review", rating=5)
    assert review.status_code == 201 and review.json["rating"] == 5


def test_endorsements_come_from_other_customers_once_each(agent: ApiClient, customer: dict[str, Any]) -> None:
    idea = submit(agent, customer["id"]).json
    fan = register(agent, name="Fan", handle="@fan")
    url = f"/v1/contributions/{idea['id']}/endorsements"
    assert_problem(agent.post(url, json={"customer_id": customer["id"]}), 422, "rule-violation")
    assert agent.post(url, json={"customer_id": fan["id"]}).json["endorsement_count"] == 1
    assert_problem(agent.post(url, json={"customer_id": fan["id"]}), 409, "duplicate-endorsement")
    assert_problem(agent.post(url, json={"customer_id": "00000000-0000-4000-8000-000000000000"}), 404, "not-found")


def test_a_contribution_moves_through_review_and_marketing_may_curate_it(
    agent: ApiClient, as_role: Any, customer: dict[str, Any]
) -> None:
    idea = submit(agent, customer["id"]).json
    url = f"/v1/contributions/{idea['id']}"
    marketing = as_role("marketing")
    assert_problem(marketing.put(f"{url}/status", json={"status": "implemented"}), 409, "illegal-transition")
    for status in ("under_review", "accepted", "implemented"):
        assert marketing.put(f"{url}/status", json={"status": status}).json["status"] == status
    rewarded = marketing.post(f"{url}/rewards", json={"description": "Beta tester badge"})
    assert rewarded.status_code == 201 and rewarded.json["rewards"][0]["description"] == "Beta tester badge"
    assert marketing.get(url).json["status_history"][-1]["previous"] == "accepted"
    assert_problem(marketing.post("/v1/contributions", json={}), 403, "forbidden")


def test_only_a_referral_converts_and_only_once(agent: ApiClient, customer: dict[str, Any]) -> None:
    referral = submit(agent, customer["id"], "referral", referred_handle="@friend").json
    friend = register(agent, name="Friend", handle="@friend")
    url = f"/v1/contributions/{referral['id']}/conversion"
    assert agent.post(url, json={"customer_id": friend["id"]}).json["converted_customer_id"] == friend["id"]
    assert_problem(agent.post(url, json={"customer_id": friend["id"]}), 409, "conflict")
    idea = submit(agent, customer["id"]).json
    assert_problem(
        agent.post(f"/v1/contributions/{idea['id']}/conversion", json={"customer_id": friend["id"]}),
        422,
        "rule-violation",
    )
