"""Text is stored in one Unicode form, and control characters never get in."""

from __future__ import annotations

from typing import Any

import pytest

from domain.application import CustomerRelations
from tests.conftest import ApiClient

DECOMPOSED = "Cafe\u0301 Noe\u0308l"  # e + combining acute, e + combining diaeresis
COMPOSED = "Café Noël"


def test_names_and_messages_are_stored_in_composed_form(agent: ApiClient) -> None:
    customer = agent.post("/v1/customers", json={"name": DECOMPOSED}).json
    assert customer["name"] == COMPOSED
    conversation = agent.post(
        "/v1/conversations",
        json={"customer_id": customer["id"], "channel": "web", "message": {"text": f"Bonjour {DECOMPOSED}"}},
    ).json
    assert conversation["messages"][0]["text"] == f"Bonjour {COMPOSED}"


def test_one_identity_typed_in_two_forms_is_the_same_identity(agent: ApiClient) -> None:
    first = agent.post("/v1/customers", json={"name": "A", "identities": [{"channel": "web", "handle": COMPOSED}]})
    second = agent.post("/v1/customers", json={"name": "B", "identities": [{"channel": "web", "handle": DECOMPOSED}]})
    assert first.status_code == 201
    assert second.status_code == 409


def test_tabs_and_line_breaks_are_kept(agent: ApiClient) -> None:
    customer = agent.post("/v1/customers", json={"name": "Dana"}).json
    conversation = agent.post(
        "/v1/conversations",
        json={"customer_id": customer["id"], "channel": "web", "message": {"text": "line one\r\n\tline two"}},
    )
    assert conversation.json["messages"][0]["text"] == "line one\r\n\tline two"


@pytest.mark.parametrize(
    ("url", "body", "pointer"),
    [
        ("/v1/customers", {"name": "Dana\x00"}, "/name"),
        (
            "/v1/customers",
            {"name": "Dana", "identities": [{"channel": "web", "handle": "\x1b[31mred"}]},
            "/identities/0/handle",
        ),
        ("{customer}/tags", {"tag": "v\x07ip"}, "/tag"),
        ("{conversation}/messages", {"text": "hello\x7f"}, "/text"),
        ("{conversation}/messages", {"text": "hello", "external_id": "tw\x001"}, "/external_id"),
    ],
)
def test_control_characters_are_refused_and_record_nothing(
    agent: ApiClient, application: CustomerRelations, url: str, body: dict[str, Any], pointer: str
) -> None:
    customer = agent.post("/v1/customers", json={"name": "Dana"}).json
    conversation = agent.post("/v1/conversations", json={"customer_id": customer["id"], "channel": "web"}).json
    target = url.format(
        customer=f"/v1/customers/{customer['id']}", conversation=f"/v1/conversations/{conversation['id']}"
    )
    before = application.head_position
    response = agent.post(target, json=body)
    assert response.status_code == 422
    assert pointer in [error["pointer"] for error in response.json["errors"]]
    assert application.head_position == before
