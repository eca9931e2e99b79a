"""POST /v1/ingest/messages over HTTP, on both backends."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.application import CustomerRelations
from tests.api.test_errors import assert_problem


def message(external_id: str, handle: str = "@ann", **fields: Any) -> dict[str, Any]:
    return {
        "channel": "twitter",
        "external_id": external_id,
        "direction": "inbound",
        "author": {"handle": handle, "name": "Ann Example"},
        "text": f"Where is order {external_id}?",
        "occurred_at": f"2026-11-23T10:{int(external_id) % 60:02d}:00Z",
        **fields,
    }


def test_an_integration_ingests_a_batch_and_one_bad_message_rejects_only_itself(
    as_role: Any, application: CustomerRelations
) -> None:
    integration = as_role("integration")
    batch = [
        message("1"),
        message("2", text=""),  # invalid: empty text
        {"external_id": "3", "direction": "sideways"},  # invalid in several ways
        message("4", direction="outbound", author={"handle": "brand", "name": "Brand Care"}, in_reply_to="1"),
    ]

    response = integration.post("/v1/ingest/messages", json={"messages": batch})

    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [(r["index"], r["external_id"], r["status"]) for r in results] == [
        (0, "1", "created"),
        (1, "2", "rejected"),
        (2, "3", "rejected"),
        (3, "4", "created"),
    ]
    assert "text" in results[1]["reason"]
    assert "direction" in results[2]["reason"] and "author" in results[2]["reason"]
    assert response.json["counts"] == {"created": 2, "rejected": 2}
    assert int(response.headers["Conversa-Position"]) == application.head_position
    assert results[0]["conversation_id"] == results[3]["conversation_id"]
    conversation = application.get_conversation(UUID(results[0]["conversation_id"]))
    assert [m["author"]["name"] for m in conversation.messages] == [None, "Brand Care"]
    assert application.get_customer(UUID(results[0]["customer_id"])).name == "Ann Example"


def test_sending_a_batch_again_answers_duplicates_and_records_nothing(
    as_role: Any, application: CustomerRelations
) -> None:
    integration = as_role("integration")
    batch = {"messages": [message("1"), message("2", in_reply_to="1")]}
    first = integration.post("/v1/ingest/messages", json=batch).json
    head = application.head_position

    again = integration.post("/v1/ingest/messages", json=batch)

    assert [r["status"] for r in again.json["results"]] == ["duplicate", "duplicate"]
    assert [r["conversation_id"] for r in again.json["results"]] == [r["conversation_id"] for r in first["results"]]
    assert "Conversa-Position" not in again.headers
    assert application.head_position == head


def test_more_than_a_thousand_messages_are_refused_whole(as_role: Any, application: CustomerRelations) -> None:
    integration = as_role("integration")
    head = application.head_position

    response = integration.post("/v1/ingest/messages", json={"messages": [message(str(n)) for n in range(1001)]})

    assert_problem(response, 422, "validation")
    assert application.head_position == head


def test_a_batch_that_is_not_a_list_is_refused(as_role: Any) -> None:
    response = as_role("integration").post("/v1/ingest/messages", json={"messages": {"0": message("1")}})

    assert_problem(response, 422, "validation")
