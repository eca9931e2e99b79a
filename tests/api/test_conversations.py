"""Conversations over HTTP: every endpoint, its rules, its bad input, its roles and its preconditions.

Every refusal is an RFC 9457 problem document and leaves the event log exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib.metadata import version
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.application import CustomerRelations
from tests.conftest import ApiClient

PROBLEM = "application/problem+json"
COMPLAINT = "This is terrible, the worst service I have ever had. I hate it."
QUESTION = "Where is my order?"
NAIVE_TIME = "2024-01-01T10:00:00"
MISSING = object()  # a field left out of a request body


# ---- helpers ------------------------------------------------------------------------------------


def register_customer(client: ApiClient, name: str = "Carla Customer") -> dict[str, Any]:
    handle = f"@c{uuid4().hex[:12]}"
    response = client.post(
        "/v1/customers", json={"name": name, "identities": [{"channel": "twitter", "handle": handle}]}
    )
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def start(client: ApiClient, customer_id: str, text: str | None = QUESTION, **extra: Any) -> dict[str, Any]:
    """Start a conversation on twitter, with a first inbound message unless text is None."""
    body: dict[str, Any] = {"customer_id": customer_id, "channel": "twitter", **extra}
    if text is not None:
        body["message"] = {"text": text}
    response = client.post("/v1/conversations", json=body)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def url(conversation: dict[str, Any], tail: str = "") -> str:
    return f"/v1/conversations/{conversation['id']}{tail}"


def assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with the given status (and type slug)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.json
    assert body["status"] == status
    assert body["type"].startswith("urn:conversa:problem:")
    if slug is not None:
        assert body["type"] == f"urn:conversa:problem:{slug}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@contextmanager
def records_no_event(application: CustomerRelations) -> Iterator[None]:
    before = application.head_position
    yield
    assert application.head_position == before, "a refused request recorded an event"


def agent_id_named(admin: ApiClient, name: str) -> str:
    agents = admin.get("/v1/agents").json["items"]
    return next(a["id"] for a in agents if a["name"] == name)  # type: ignore[no-any-return]


def event_types(application: CustomerRelations, aggregate_id: str) -> list[str]:
    return [type(e).__qualname__ for e in application.events.get(UUID(aggregate_id))]


def make_agent(admin: ApiClient, name: str, role: str) -> str:
    """Register an agent over HTTP and return its id."""
    response = admin.post("/v1/agents", json={"name": name, "role": role})
    assert response.status_code == 201, response.json
    return response.json["id"]  # type: ignore[no-any-return]


@pytest.fixture
def customer(agent: ApiClient) -> dict[str, Any]:
    return register_customer(agent)


@pytest.fixture
def conversation(agent: ApiClient, customer: dict[str, Any]) -> dict[str, Any]:
    """An open question from the customer, first message at 2024-03-01 10:00 UTC."""
    return start(agent, customer["id"], QUESTION, occurred_at="2024-03-01T10:00:00+00:00")


@pytest.fixture
def resolved(agent: ApiClient, conversation: dict[str, Any]) -> dict[str, Any]:
    response = agent.post(url(conversation, "/resolve"))
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[no-any-return]


# ---- start and read -----------------------------------------------------------------------------


def test_starting_a_conversation_answers_201_with_location_etag_and_the_position_of_its_last_event(
    agent: ApiClient, customer: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(
        "/v1/conversations",
        json={"customer_id": customer["id"], "channel": "twitter", "subject": "Order 123", "visibility": "private"},
    )
    assert response.status_code == 201
    body = response.json
    assert response.headers["Location"].endswith(f"/v1/conversations/{body['id']}")
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert response.headers["Conversa-Position"] == str(application.head_position)
    assert body["customer_id"] == customer["id"]
    assert (body["channel"], body["subject"], body["visibility"]) == ("twitter", "Order 123", "private")
    assert (body["status"], body["kind"], body["kind_source"], body["priority"]) == ("open", None, None, "medium")
    assert body["messages"] == [] and body["notes"] == [] and body["csat"] == []
    assert body["first_inbound_at"] is None and body["first_response_due_at"] is None
    assert body["assignee"] is None and body["escalation"] is None


def test_a_conversation_started_without_a_message_is_public_by_default(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    body = start(agent, customer["id"], None)
    assert body["visibility"] == "public"
    assert body["subject"] is None


def test_a_clearly_negative_first_message_makes_a_high_priority_complaint(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    body = start(agent, customer["id"], COMPLAINT, occurred_at="2024-03-01T10:00:00+00:00")
    assert (body["kind"], body["kind_source"], body["priority"]) == ("complaint", "automatic", "high")
    assert body["messages"][0]["sentiment"]["compound"] <= -0.35
    assert datetime.fromisoformat(body["first_response_due_at"]) == datetime.fromisoformat("2024-03-01T11:00:00+00:00")


def test_a_first_message_with_a_question_mark_makes_a_medium_priority_question(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    body = start(agent, customer["id"], QUESTION, occurred_at="2024-03-01T10:00:00+00:00")
    assert (body["kind"], body["kind_source"], body["priority"]) == ("question", "automatic", "medium")
    assert datetime.fromisoformat(body["first_response_due_at"]) == datetime.fromisoformat("2024-03-01T14:00:00+00:00")
    assert datetime.fromisoformat(body["resolution_due_at"]) == datetime.fromisoformat("2024-03-04T10:00:00+00:00")


def test_reading_a_conversation_shows_each_message_with_its_sentiment_author_and_the_notes(
    agent: ApiClient, customer: dict[str, Any], conversation: dict[str, Any]
) -> None:
    agent.post(url(conversation, "/notes"), json={"text": "VIP, be quick"})
    response = agent.get(url(conversation))
    assert response.status_code == 200
    body = response.json
    assert response.headers["ETag"] == f'"{body["version"]}"'
    [message] = body["messages"]
    UUID(message["id"])
    assert message["direction"] == "inbound"
    assert message["text"] == QUESTION
    assert datetime.fromisoformat(message["occurred_at"]) == datetime.fromisoformat("2024-03-01T10:00:00+00:00")
    assert message["sentiment"] == {"compound": 0.0, "analyser": "vaderSentiment", "version": version("vaderSentiment")}
    assert message["author"] == {"kind": "customer", "id": customer["id"], "name": None}
    assert message["retracted"] is False and message["retraction"] is None
    [note] = body["notes"]
    assert note["text"] == "VIP, be quick"
    assert note["author"]["name"] == "Ann Agent"
    assert body["first_response_due_at"] is not None


def test_reading_an_unknown_conversation_is_a_404_problem(agent: ApiClient) -> None:
    assert_problem(agent.get(f"/v1/conversations/{uuid4()}"), 404, "not-found")


def test_reading_a_customer_id_as_a_conversation_is_a_404_problem(agent: ApiClient, customer: dict[str, Any]) -> None:
    assert_problem(agent.get(f"/v1/conversations/{customer['id']}"), 404, "not-found")


def test_starting_a_conversation_for_an_unknown_customer_is_404_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    with records_no_event(application):
        response = agent.post(
            "/v1/conversations", json={"customer_id": str(uuid4()), "channel": "twitter", "message": {"text": "hi"}}
        )
        assert_problem(response, 404, "not-found")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"customer_id": MISSING, "channel": "twitter"}, id="no-customer"),
        pytest.param({"customer_id": None, "channel": "twitter"}, id="null-customer"),
        pytest.param({"customer_id": "not-a-uuid", "channel": "twitter"}, id="bad-customer-id"),
        pytest.param({"channel": "Twitter!"}, id="bad-channel"),
        pytest.param({}, id="no-channel"),
        pytest.param({"channel": "twitter", "visibility": "secret"}, id="bad-visibility"),
        pytest.param({"channel": "twitter", "subject": "x" * 201}, id="subject-too-long"),
        pytest.param({"channel": "twitter", "occurred_at": NAIVE_TIME}, id="naive-occurred-at"),
        pytest.param({"channel": "twitter", "message": {"text": ""}}, id="empty-message"),
        pytest.param({"channel": "twitter", "message": {"text": "x" * 10_001}}, id="message-too-long"),
        pytest.param(
            {"channel": "twitter", "message": {"text": "hi", "occurred_at": NAIVE_TIME}}, id="naive-message-time"
        ),
        pytest.param({"channel": "twitter", "message": "hi"}, id="message-not-an-object"),
    ],
)
def test_starting_a_conversation_with_bad_fields_is_422_and_records_nothing(
    agent: ApiClient, customer: dict[str, Any], application: CustomerRelations, body: dict[str, Any]
) -> None:
    body = {k: v for k, v in {"customer_id": customer["id"], **body}.items() if v is not MISSING}
    with records_no_event(application):
        problem = assert_problem(agent.post("/v1/conversations", json=body), 422, "validation")
    assert problem["errors"], problem


# ---- inbound messages -----------------------------------------------------------------------------


def test_an_inbound_message_is_appended_with_its_sentiment_and_a_new_etag(
    agent: ApiClient, customer: dict[str, Any], conversation: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(
        url(conversation, "/messages"),
        json={"text": "Thanks, that works great!", "external_id": "tw-2", "occurred_at": "2024-03-01T12:00:00Z"},
    )
    assert response.status_code == 201
    body = response.json
    assert response.headers["Location"].endswith(url(conversation))
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert body["version"] > conversation["version"]
    assert response.headers["Conversa-Position"] == str(application.head_position)
    message = body["messages"][-1]
    assert (message["direction"], message["text"], message["external_id"]) == (
        "inbound",
        "Thanks, that works great!",
        "tw-2",
    )
    assert message["sentiment"]["compound"] >= 0.5
    assert message["author"] == {"kind": "customer", "id": customer["id"], "name": None}
    assert body["kind"] == "question", "only the first inbound message classifies"


def test_a_message_whose_external_id_was_already_recorded_is_409_duplicate_message_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    first = agent.post(url(conversation, "/messages"), json={"text": "Hello?", "external_id": "tw-42"})
    assert first.status_code == 201
    with records_no_event(application):
        again = agent.post(url(conversation, "/messages"), json={"text": "Hello again?", "external_id": "tw-42"})
        assert_problem(again, 409, "duplicate-message")
    assert [m["text"] for m in agent.get(url(conversation)).json["messages"]].count("Hello again?") == 0


def test_the_same_external_id_in_another_conversation_on_the_same_channel_is_also_a_duplicate(
    agent: ApiClient, customer: dict[str, Any], conversation: dict[str, Any], application: CustomerRelations
) -> None:
    agent.post(url(conversation, "/messages"), json={"text": "Hello?", "external_id": "tw-7"})
    other = start(agent, customer["id"], None)
    with records_no_event(application):
        assert_problem(
            agent.post(url(other, "/messages"), json={"text": "Hi", "external_id": "tw-7"}), 409, "duplicate-message"
        )


def test_a_message_to_a_resolved_conversation_reopens_it_with_a_reopened_event(
    agent: ApiClient, customer: dict[str, Any], resolved: dict[str, Any], application: CustomerRelations
) -> None:
    assert resolved["status"] == "resolved"
    response = agent.post(url(resolved, "/messages"), json={"text": "It broke again"})
    assert response.status_code == 201
    assert response.json["status"] == "open"
    assert response.json["resolved_at"] is None
    types = event_types(application, resolved["id"])
    assert types[-2:] == ["Conversation.Reopened", "Conversation.MessageReceived"]
    timeline = agent.get(f"/v1/customers/{customer['id']}/timeline?limit=100").json["items"]
    assert "conversation.reopened" in [entry["type"] for entry in timeline]


def test_a_duplicate_message_to_a_resolved_conversation_leaves_it_resolved(
    agent: ApiClient, customer: dict[str, Any], application: CustomerRelations
) -> None:
    conversation = start(agent, customer["id"], None)
    agent.post(url(conversation, "/messages"), json={"text": "Hello?", "external_id": "tw-100"})
    agent.post(url(conversation, "/resolve"))
    with records_no_event(application):
        again = agent.post(url(conversation, "/messages"), json={"text": "Hello?", "external_id": "tw-100"})
        assert_problem(again, 409, "duplicate-message")
    assert agent.get(url(conversation)).json["status"] == "resolved"


def test_starting_a_conversation_with_an_already_recorded_message_is_409_and_creates_no_conversation(
    agent: ApiClient, customer: dict[str, Any], application: CustomerRelations
) -> None:
    start(agent, customer["id"], None, message={"text": "Help?", "external_id": "tw-5"})
    body = {"customer_id": customer["id"], "channel": "twitter", "message": {"text": "Help?", "external_id": "tw-5"}}
    with records_no_event(application):
        assert_problem(agent.post("/v1/conversations", json=body), 409, "duplicate-message")


def test_a_message_to_an_unknown_conversation_is_404_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(f"/v1/conversations/{uuid4()}/messages", json={"text": "hi"}), 404, "not-found")


TEXT_ENDPOINTS = ["/messages", "/replies", "/notes"]


@pytest.mark.parametrize("tail", TEXT_ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"text": "x" * 10_001}, id="too-long"),
        pytest.param({"text": ""}, id="empty"),
        pytest.param({"text": "   \n\t"}, id="only-whitespace"),
        pytest.param({"text": None}, id="null"),
        pytest.param({}, id="missing"),
        pytest.param({"text": 42}, id="not-a-string"),
    ],
)
def test_a_text_that_is_missing_empty_or_over_ten_thousand_characters_is_422_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations, tail: str, body: dict[str, Any]
) -> None:
    with records_no_event(application):
        problem = assert_problem(agent.post(url(conversation, tail), json=body), 422, "validation")
    assert any(error["pointer"] == "/text" for error in problem["errors"]), problem


@pytest.mark.parametrize("tail", TEXT_ENDPOINTS)
def test_a_text_of_exactly_ten_thousand_characters_is_accepted(
    agent: ApiClient, conversation: dict[str, Any], tail: str
) -> None:
    assert agent.post(url(conversation, tail), json={"text": "x" * 10_000}).status_code == 201


@pytest.mark.parametrize("tail", ["/messages", "/replies"])
@pytest.mark.parametrize("occurred_at", [NAIVE_TIME, "yesterday", "2024-13-01T10:00:00Z"])
def test_an_occurred_at_without_offset_or_not_a_time_is_422_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations, tail: str, occurred_at: str
) -> None:
    with records_no_event(application):
        problem = assert_problem(
            agent.post(url(conversation, tail), json={"text": "hello", "occurred_at": occurred_at}), 422, "validation"
        )
    assert any(error["pointer"] == "/occurred_at" for error in problem["errors"]), problem


# ---- replies --------------------------------------------------------------------------------------


def test_a_reply_is_signed_by_the_authenticated_agent_and_leaves_the_conversation_pending(
    agent: ApiClient, admin: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(url(conversation, "/replies"), json={"text": "It ships today.", "external_id": "tw-r1"})
    assert response.status_code == 201
    assert response.headers["Location"].endswith(url(conversation))
    assert response.headers["Conversa-Position"] == str(application.head_position)
    body = response.json
    assert body["status"] == "pending"
    reply = body["messages"][-1]
    assert (reply["direction"], reply["text"], reply["external_id"]) == ("outbound", "It ships today.", "tw-r1")
    assert reply["sentiment"] is None
    assert reply["author"] == {"kind": "agent", "id": agent_id_named(admin, "Ann Agent"), "name": "Ann Agent"}


def test_the_first_response_time_is_the_first_reply_minus_the_first_inbound_message(
    agent: ApiClient, conversation: dict[str, Any]
) -> None:
    # The first inbound message occurred at 10:00 UTC; 11:30+01:00 is 10:30 UTC.
    first = agent.post(
        url(conversation, "/replies"), json={"text": "On it.", "occurred_at": "2024-03-01T11:30:00+01:00"}
    )
    assert first.status_code == 201
    assert first.json["first_response_seconds"] == 1800
    assert datetime.fromisoformat(first.json["first_reply_at"]) == datetime.fromisoformat("2024-03-01T10:30:00+00:00")
    later = agent.post(url(conversation, "/replies"), json={"text": "Done.", "occurred_at": "2024-03-01T15:00:00Z"})
    assert later.json["first_response_seconds"] == 1800, "a later reply does not change the first response"


def test_a_conversation_without_a_reply_has_no_first_response_time(conversation: dict[str, Any]) -> None:
    assert conversation["first_response_seconds"] is None
    assert conversation["first_reply_at"] is None


def test_a_customer_message_after_a_reply_makes_a_pending_conversation_open_again(
    agent: ApiClient, conversation: dict[str, Any]
) -> None:
    assert agent.post(url(conversation, "/replies"), json={"text": "Which order?"}).json["status"] == "pending"
    assert agent.post(url(conversation, "/messages"), json={"text": "Number 123"}).json["status"] == "open"


def test_replying_to_a_resolved_conversation_is_409_and_records_nothing(
    agent: ApiClient, resolved: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(resolved, "/replies"), json={"text": "One more thing"}), 409, "conflict")
    assert agent.get(url(resolved)).json["status"] == "resolved"


def test_replying_to_an_unknown_conversation_is_a_404_problem_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(f"/v1/conversations/{uuid4()}/replies", json={"text": "Hi"}), 404, "not-found")


def test_a_reply_reusing_a_recorded_external_id_is_409_duplicate_message_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    assert agent.post(url(conversation, "/replies"), json={"text": "A", "external_id": "tw-9"}).status_code == 201
    with records_no_event(application):
        assert_problem(
            agent.post(url(conversation, "/replies"), json={"text": "B", "external_id": "tw-9"}),
            409,
            "duplicate-message",
        )


# ---- notes ----------------------------------------------------------------------------------------


def test_a_note_is_kept_apart_from_the_messages_and_signed_by_the_agent(
    agent: ApiClient, admin: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(url(conversation, "/notes"), json={"text": "Customer called twice"})
    assert response.status_code == 201
    assert response.headers["Location"].endswith(url(conversation))
    assert response.headers["Conversa-Position"] == str(application.head_position)
    body = response.json
    assert [m["text"] for m in body["messages"]] == [QUESTION]
    [note] = body["notes"]
    UUID(note["id"])
    assert note["text"] == "Customer called twice"
    assert note["author"] == {"kind": "agent", "id": agent_id_named(admin, "Ann Agent"), "name": "Ann Agent"}
    assert body["status"] == "open", "a note does not change the status"


# ---- assignee -------------------------------------------------------------------------------------


def test_a_conversation_is_assigned_to_a_support_agent_by_id_and_unassigned_with_null(
    agent: ApiClient, admin: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    ben = make_agent(admin, "Ben Support", "agent")
    assigned = agent.put(url(conversation, "/assignee"), json={"agent_id": ben})
    assert assigned.status_code == 200
    assert assigned.json["assignee"] == {"id": ben, "name": "Ben Support"}
    assert assigned.headers["ETag"] == f'"{assigned.json["version"]}"'
    assert assigned.headers["Conversa-Position"] == str(application.head_position)
    unassigned = agent.put(url(conversation, "/assignee"), json={"agent_id": None})
    assert unassigned.status_code == 200
    assert unassigned.json["assignee"] is None
    assert event_types(application, conversation["id"])[-2:] == ["Conversation.Assigned", "Conversation.Unassigned"]


def test_an_admin_may_be_assigned_a_conversation(
    agent: ApiClient, admin: ApiClient, conversation: dict[str, Any]
) -> None:
    admin_id = agent_id_named(admin, "admin")
    response = agent.put(url(conversation, "/assignee"), json={"agent_id": admin_id})
    assert response.status_code == 200
    assert response.json["assignee"]["id"] == admin_id


def test_assigning_to_the_agent_who_already_holds_it_records_nothing_and_answers_without_a_position(
    agent: ApiClient, admin: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    ann = agent_id_named(admin, "Ann Agent")
    first = agent.put(url(conversation, "/assignee"), json={"agent_id": ann})
    with records_no_event(application):
        again = agent.put(url(conversation, "/assignee"), json={"agent_id": ann})
    assert again.status_code == 200
    assert again.headers["ETag"] == first.headers["ETag"]
    assert "Conversa-Position" not in again.headers


@pytest.mark.parametrize("role", ["marketing", "integration"])
def test_assigning_to_an_agent_who_does_not_do_support_is_422_and_records_nothing(
    agent: ApiClient, admin: ApiClient, conversation: dict[str, Any], application: CustomerRelations, role: str
) -> None:
    other = make_agent(admin, f"Mia {role}", role)
    with records_no_event(application):
        response = agent.put(url(conversation, "/assignee"), json={"agent_id": other})
        assert_problem(response, 422, "rule-violation")
    assert agent.get(url(conversation)).json["assignee"] is None


def test_assigning_to_a_deactivated_agent_is_422_and_records_nothing(
    agent: ApiClient, admin: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    gone = make_agent(admin, "Gone Agent", "agent")
    assert admin.delete(f"/v1/agents/{gone}").status_code in (200, 204)
    with records_no_event(application):
        assert_problem(agent.put(url(conversation, "/assignee"), json={"agent_id": gone}), 422, "rule-violation")


@pytest.mark.parametrize("unknown", ["agent", "customer"])
def test_assigning_to_an_unknown_agent_is_404_and_records_nothing(
    agent: ApiClient,
    customer: dict[str, Any],
    conversation: dict[str, Any],
    application: CustomerRelations,
    unknown: str,
) -> None:
    agent_id = str(uuid4()) if unknown == "agent" else customer["id"]
    with records_no_event(application):
        assert_problem(agent.put(url(conversation, "/assignee"), json={"agent_id": agent_id}), 404, "not-found")


@pytest.mark.parametrize("body", [{}, {"agent_id": "ann"}, {"agent_id": 7}], ids=["missing", "not-uuid", "number"])
def test_an_assignee_that_is_missing_or_not_a_uuid_is_422_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations, body: dict[str, Any]
) -> None:
    with records_no_event(application):
        assert_problem(agent.put(url(conversation, "/assignee"), json=body), 422, "validation")


# ---- classification and priority ----------------------------------------------------------------


def test_an_agents_classification_wins_and_a_later_first_inbound_message_does_not_override_it(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    conversation = start(agent, customer["id"], None)
    classified = agent.put(url(conversation, "/classification"), json={"kind": "idea"})
    assert classified.status_code == 200
    assert (classified.json["kind"], classified.json["kind_source"]) == ("idea", "agent")
    after = agent.post(url(conversation, "/messages"), json={"text": COMPLAINT})
    assert after.status_code == 201
    assert (after.json["kind"], after.json["kind_source"], after.json["priority"]) == ("idea", "agent", "medium")
    assert after.json["messages"][0]["sentiment"]["compound"] <= -0.35


def test_an_agent_may_reclassify_an_automatically_classified_conversation(
    agent: ApiClient, customer: dict[str, Any], application: CustomerRelations
) -> None:
    conversation = start(agent, customer["id"], COMPLAINT)
    response = agent.put(url(conversation, "/classification"), json={"kind": "praise"})
    assert response.status_code == 200
    assert (response.json["kind"], response.json["kind_source"]) == ("praise", "agent")
    assert response.headers["Conversa-Position"] == str(application.head_position)


def test_classifying_as_a_complaint_raises_the_default_priority_to_high(
    agent: ApiClient, conversation: dict[str, Any]
) -> None:
    response = agent.put(url(conversation, "/classification"), json={"kind": "complaint"})
    assert (response.json["kind"], response.json["priority"]) == ("complaint", "high")


@pytest.mark.parametrize("body", [{"kind": "rant"}, {"kind": None}, {}], ids=["unknown", "null", "missing"])
def test_an_unknown_kind_is_422_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations, body: dict[str, Any]
) -> None:
    with records_no_event(application):
        assert_problem(agent.put(url(conversation, "/classification"), json=body), 422, "validation")


def test_setting_the_priority_by_hand_moves_the_first_response_target(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.put(url(conversation, "/priority"), json={"priority": "urgent"})
    assert response.status_code == 200
    assert response.json["priority"] == "urgent"
    assert response.headers["Conversa-Position"] == str(application.head_position)
    assert datetime.fromisoformat(response.json["first_response_due_at"]) == datetime.fromisoformat(
        "2024-03-01T10:15:00+00:00"
    )


def test_an_agents_priority_is_kept_when_the_conversation_is_classified_as_a_complaint_later(
    agent: ApiClient, conversation: dict[str, Any]
) -> None:
    agent.put(url(conversation, "/priority"), json={"priority": "low"})
    response = agent.put(url(conversation, "/classification"), json={"kind": "complaint"})
    assert (response.json["kind"], response.json["priority"]) == ("complaint", "low")


@pytest.mark.parametrize("body", [{"priority": "critical"}, {"priority": "HIGH"}, {}], ids=["unknown", "case", "none"])
def test_an_unknown_priority_is_422_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations, body: dict[str, Any]
) -> None:
    with records_no_event(application):
        assert_problem(agent.put(url(conversation, "/priority"), json=body), 422, "validation")


# ---- escalation, resolution, reopening ----------------------------------------------------------


def test_escalating_records_the_reason_and_the_agent_who_escalated(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(url(conversation, "/escalate"), json={"reason": "Threatens to go to the press"})
    assert response.status_code == 200
    escalation = response.json["escalation"]
    assert escalation["reason"] == "Threatens to go to the press"
    assert escalation["actor"]["name"] == "Ann Agent"
    assert response.headers["Conversa-Position"] == str(application.head_position)


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "x" * 1_001}], ids=["missing", "empty", "over-a-thousand"]
)
def test_escalating_without_a_reason_is_422_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations, body: dict[str, Any]
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(conversation, "/escalate"), json=body), 422, "validation")


def test_escalating_a_resolved_conversation_is_409_and_records_nothing(
    agent: ApiClient, resolved: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(resolved, "/escalate"), json={"reason": "late"}), 409, "conflict")


def test_resolving_marks_the_conversation_resolved(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(url(conversation, "/resolve"))
    assert response.status_code == 200
    assert response.json["status"] == "resolved"
    assert response.json["resolved_at"] is not None
    assert response.headers["Conversa-Position"] == str(application.head_position)


def test_resolving_twice_is_409_illegal_transition_and_records_nothing(
    agent: ApiClient, resolved: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(resolved, "/resolve")), 409, "illegal-transition")


def test_reopening_a_resolved_conversation_makes_it_open(
    agent: ApiClient, resolved: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(url(resolved, "/reopen"))
    assert response.status_code == 200
    assert (response.json["status"], response.json["resolved_at"]) == ("open", None)
    assert event_types(application, resolved["id"])[-1] == "Conversation.Reopened"


def test_reopening_a_conversation_that_is_not_resolved_is_409_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(conversation, "/reopen")), 409, "illegal-transition")


@pytest.mark.parametrize("tail", ["/resolve", "/reopen", "/escalate"])
def test_lifecycle_calls_on_an_unknown_conversation_are_404_and_record_nothing(
    agent: ApiClient, application: CustomerRelations, tail: str
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(f"/v1/conversations/{uuid4()}{tail}", json={"reason": "x"}), 404, "not-found")


# ---- CSAT -----------------------------------------------------------------------------------------


def test_rating_satisfaction_before_the_resolution_is_409_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(conversation, "/csat"), json={"rating": 5}), 409, "conflict")


@pytest.mark.parametrize(
    "rating",
    [0, 6, -1, "5", 4.5, True, None],
    ids=["zero", "six", "negative", "string", "fraction", "boolean", "null"],
)
def test_a_rating_that_is_not_a_whole_number_from_one_to_five_is_422_and_records_nothing(
    agent: ApiClient, resolved: dict[str, Any], application: CustomerRelations, rating: Any
) -> None:
    with records_no_event(application):
        problem = assert_problem(agent.post(url(resolved, "/csat"), json={"rating": rating}), 422, "validation")
    assert any(error["pointer"] == "/rating" for error in problem["errors"]), problem


def test_a_csat_comment_over_ten_thousand_characters_is_422_and_records_nothing(
    agent: ApiClient, resolved: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        response = agent.post(url(resolved, "/csat"), json={"rating": 5, "comment": "x" * 10_001})
        assert_problem(response, 422, "validation")


def test_a_rating_is_required(agent: ApiClient, resolved: dict[str, Any], application: CustomerRelations) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(resolved, "/csat"), json={"comment": "ok"}), 422, "validation")


def test_after_the_resolution_a_rating_is_recorded_with_its_comment(
    agent: ApiClient, resolved: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(url(resolved, "/csat"), json={"rating": 4, "comment": "Quick and kind"})
    assert response.status_code == 201
    assert response.headers["Location"].endswith(url(resolved))
    assert response.headers["Conversa-Position"] == str(application.head_position)
    [csat] = response.json["csat"]
    assert (csat["rating"], csat["comment"]) == (4, "Quick and kind")
    assert response.json["status"] == "resolved"


def test_a_second_rating_for_the_same_resolution_is_409_and_records_nothing(
    agent: ApiClient, resolved: dict[str, Any], application: CustomerRelations
) -> None:
    assert agent.post(url(resolved, "/csat"), json={"rating": 5}).status_code == 201
    with records_no_event(application):
        assert_problem(agent.post(url(resolved, "/csat"), json={"rating": 1}), 409, "conflict")
    assert [c["rating"] for c in agent.get(url(resolved)).json["csat"]] == [5]


def test_each_resolution_may_be_rated_once(agent: ApiClient, resolved: dict[str, Any]) -> None:
    assert agent.post(url(resolved, "/csat"), json={"rating": 2}).status_code == 201
    agent.post(url(resolved, "/messages"), json={"text": "Broken again"})
    agent.post(url(resolved, "/resolve"))
    again = agent.post(url(resolved, "/csat"), json={"rating": 5})
    assert again.status_code == 201
    assert [c["rating"] for c in again.json["csat"]] == [2, 5]


# ---- retraction -----------------------------------------------------------------------------------


def test_a_retracted_message_stays_in_history_with_the_reason_and_who_retracted_it(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    reply = agent.post(url(conversation, "/replies"), json={"text": "Wrong price: 5 EUR"}).json["messages"][-1]
    response = agent.post(url(conversation, f"/messages/{reply['id']}/retract"), json={"reason": "Price was wrong"})
    assert response.status_code == 200
    assert response.headers["Conversa-Position"] == str(application.head_position)
    message = next(m for m in response.json["messages"] if m["id"] == reply["id"])
    assert message["retracted"] is True
    assert message["text"] == "Wrong price: 5 EUR"
    assert message["retraction"]["reason"] == "Price was wrong"
    assert message["retraction"]["actor"]["name"] == "Ann Agent"
    assert message["retraction"]["occurred_at"] is not None
    assert len(response.json["messages"]) == 2, "nothing is deleted"


def test_an_inbound_message_may_be_retracted_too(agent: ApiClient, conversation: dict[str, Any]) -> None:
    message_id = conversation["messages"][0]["id"]
    response = agent.post(url(conversation, f"/messages/{message_id}/retract"), json={"reason": "Spam"})
    assert response.status_code == 200
    assert response.json["messages"][0]["retracted"] is True


def test_retracting_an_unknown_message_is_404_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        response = agent.post(url(conversation, f"/messages/{uuid4()}/retract"), json={"reason": "oops"})
        assert_problem(response, 404, "not-found")


def test_retracting_a_message_of_another_conversation_is_404_and_records_nothing(
    agent: ApiClient, customer: dict[str, Any], conversation: dict[str, Any], application: CustomerRelations
) -> None:
    other = start(agent, customer["id"], "Another question?")
    foreign = other["messages"][0]["id"]
    with records_no_event(application):
        response = agent.post(url(conversation, f"/messages/{foreign}/retract"), json={"reason": "oops"})
        assert_problem(response, 404, "not-found")


def test_retracting_a_message_twice_is_409_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    path = url(conversation, f"/messages/{conversation['messages'][0]['id']}/retract")
    assert agent.post(path, json={"reason": "first"}).status_code == 200
    with records_no_event(application):
        assert_problem(agent.post(path, json={"reason": "second"}), 409, "conflict")


@pytest.mark.parametrize("body", [{}, {"reason": " "}], ids=["missing", "blank"])
def test_retracting_without_a_reason_is_422_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations, body: dict[str, Any]
) -> None:
    path = url(conversation, f"/messages/{conversation['messages'][0]['id']}/retract")
    with records_no_event(application):
        assert_problem(agent.post(path, json=body), 422, "validation")


# ---- If-Match -------------------------------------------------------------------------------------

# Each change of an existing conversation with a body that would succeed on a fresh conversation.
CHANGES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("post", "/messages", {"text": "Any news?"}),
    ("post", "/replies", {"text": "Soon."}),
    ("post", "/notes", {"text": "Chased the warehouse"}),
    ("put", "/assignee", {"agent_id": None}),
    ("put", "/classification", {"kind": "praise"}),
    ("put", "/priority", {"priority": "urgent"}),
    ("post", "/escalate", {"reason": "VIP"}),
    ("post", "/resolve", None),
    ("post", "/retract", {"reason": "typo"}),
]


def change_path(conversation: dict[str, Any], tail: str) -> str:
    if tail == "/retract":
        return url(conversation, f"/messages/{conversation['messages'][0]['id']}/retract")
    return url(conversation, tail)


@pytest.mark.parametrize(("method", "tail", "body"), CHANGES, ids=[c[1] for c in CHANGES])
def test_a_change_with_a_stale_if_match_is_412_and_records_nothing(
    agent: ApiClient,
    conversation: dict[str, Any],
    application: CustomerRelations,
    method: str,
    tail: str,
    body: dict[str, Any] | None,
) -> None:
    stale = f'"{conversation["version"]}"'
    agent.post(url(conversation, "/notes"), json={"text": "someone else was here"})
    with records_no_event(application):
        response = getattr(agent, method)(change_path(conversation, tail), json=body, headers={"If-Match": stale})
        assert_problem(response, 412, "stale-version")


@pytest.mark.parametrize(("method", "tail", "body"), CHANGES, ids=[c[1] for c in CHANGES])
def test_a_change_with_the_current_etag_in_if_match_succeeds(
    agent: ApiClient, conversation: dict[str, Any], method: str, tail: str, body: dict[str, Any] | None
) -> None:
    etag = agent.get(url(conversation)).headers["ETag"]
    response = getattr(agent, method)(change_path(conversation, tail), json=body, headers={"If-Match": etag})
    assert response.status_code in (200, 201), response.json
    assert int(response.headers["ETag"].strip('"')) >= int(etag.strip('"'))


def test_if_match_on_csat_and_reopen_is_checked_too(
    agent: ApiClient, resolved: dict[str, Any], application: CustomerRelations
) -> None:
    stale = f'"{resolved["version"] - 1}"'
    with records_no_event(application):
        assert_problem(agent.post(url(resolved, "/csat"), json={"rating": 3}, headers={"If-Match": stale}), 412)
        assert_problem(agent.post(url(resolved, "/reopen"), headers={"If-Match": stale}), 412)
    current = f'"{resolved["version"]}"'
    rated = agent.post(url(resolved, "/csat"), json={"rating": 3}, headers={"If-Match": current})
    assert rated.status_code == 201
    assert rated.headers["ETag"] == f'"{resolved["version"] + 1}"'


def test_if_match_star_or_a_weak_etag_is_accepted(agent: ApiClient, conversation: dict[str, Any]) -> None:
    star = agent.post(url(conversation, "/notes"), json={"text": "a"}, headers={"If-Match": "*"})
    assert star.status_code == 201
    weak = agent.post(
        url(conversation, "/notes"), json={"text": "b"}, headers={"If-Match": f"W/{star.headers['ETag']}"}
    )
    assert weak.status_code == 201


def test_an_if_match_that_is_not_an_etag_is_a_400_problem_and_records_nothing(
    agent: ApiClient, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        response = agent.post(url(conversation, "/notes"), json={"text": "a"}, headers={"If-Match": "version 3"})
        assert_problem(response, 400, "bad-precondition")


# ---- roles ----------------------------------------------------------------------------------------

# Every conversation endpoint, with a body that an agent would get accepted.
ENDPOINTS: list[tuple[str, str, Any]] = [
    ("get", "", None),
    ("get", "/v1/conversations", None),
    ("post", "/v1/conversations", "start"),
    *CHANGES,
    ("post", "/reopen", None),
    ("post", "/csat", {"rating": 5}),
]


def endpoint_path(conversation: dict[str, Any], tail: str) -> str:
    return tail if tail.startswith("/v1/") else change_path(conversation, tail)


@pytest.mark.parametrize("role", ["marketing", "integration"])
@pytest.mark.parametrize(("method", "tail", "body"), ENDPOINTS, ids=[f"{e[0]} {e[1] or '/'}" for e in ENDPOINTS])
def test_marketing_and_integration_agents_get_403_on_every_conversation_endpoint_and_record_nothing(
    as_role: Any,
    customer: dict[str, Any],
    conversation: dict[str, Any],
    application: CustomerRelations,
    role: str,
    method: str,
    tail: str,
    body: Any,
) -> None:
    client = as_role(role)
    if body == "start":
        body = {"customer_id": customer["id"], "channel": "twitter", "message": {"text": "hi"}}
    kwargs = {} if method == "get" else {"json": body}
    with records_no_event(application):
        response = getattr(client, method)(endpoint_path(conversation, tail), **kwargs)
        assert_problem(response, 403, "forbidden")


@pytest.mark.parametrize(("method", "tail", "body"), ENDPOINTS, ids=[f"{e[0]} {e[1] or '/'}" for e in ENDPOINTS])
def test_every_conversation_endpoint_without_a_token_is_401_and_records_nothing(
    client: Any,
    admin: ApiClient,
    customer: dict[str, Any],
    conversation: dict[str, Any],
    application: CustomerRelations,
    method: str,
    tail: str,
    body: Any,
) -> None:
    kwargs = {} if method == "get" else {"json": {} if body == "start" else body}
    with records_no_event(application):
        response = getattr(client, method)(endpoint_path(conversation, tail), **kwargs)
        assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_forbidden_role_learns_nothing_about_the_body_it_sent(
    as_role: Any, conversation: dict[str, Any], application: CustomerRelations
) -> None:
    marketing = as_role("marketing")
    with records_no_event(application):
        assert_problem(marketing.post(url(conversation, "/replies"), json={"text": ""}), 403, "forbidden")


def test_an_admin_may_do_support_work_and_signs_with_their_own_name(admin: ApiClient, customer: dict[str, Any]) -> None:
    conversation = start(admin, customer["id"])
    reply = admin.post(url(conversation, "/replies"), json={"text": "Hello from the boss"})
    assert reply.status_code == 201
    assert reply.json["messages"][-1]["author"]["name"] == "admin"
