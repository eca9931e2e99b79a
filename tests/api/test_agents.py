"""Agents: creation with a token shown once, listing, revocation and token rotation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from domain.application import CustomerRelations
from tests.api.test_errors import assert_problem
from tests.conftest import ApiClient

AGENT_FIELDS = {"id", "version", "name", "role", "active", "registered_at"}


def create(admin: ApiClient, name: str = "Walter Bishop", role: str = "agent") -> dict[str, Any]:
    response = admin.post("/v1/agents", json={"name": name, "role": role})
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def my_id(admin: ApiClient) -> str:
    """The id of the bootstrap admin, the only agent named "admin" in these tests."""
    listed = admin.get("/v1/agents").json["items"]
    return next(a["id"] for a in listed if a["name"] == "admin")  # type: ignore[no-any-return]


# ---- create ---------------------------------------------------------------------------------------


def test_creating_an_agent_answers_201_with_location_etag_position_and_its_token(
    admin: ApiClient, application: CustomerRelations
) -> None:
    response = admin.post("/v1/agents", json={"name": "Walter Bishop", "role": "marketing"})
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == AGENT_FIELDS | {"token"}
    assert uuid.UUID(body["id"])
    assert (body["name"], body["role"], body["active"], body["version"]) == ("Walter Bishop", "marketing", True, 1)
    assert datetime.fromisoformat(body["registered_at"]).utcoffset() is not None
    assert body["token"] and isinstance(body["token"], str)
    assert response.headers["Location"].endswith(f"/v1/agents/{body['id']}")
    assert response.headers["ETag"] == '"1"'
    assert int(response.headers["Conversa-Position"]) == application.head_position


def test_the_token_is_shown_only_when_the_agent_is_created(admin: ApiClient) -> None:
    created = create(admin)
    shown = admin.get(f"/v1/agents/{created['id']}")
    assert shown.status_code == 200
    assert set(shown.json) == AGENT_FIELDS
    assert {k: v for k, v in created.items() if k != "token"} == shown.json
    assert shown.headers["ETag"] == '"1"'
    assert all("token" not in item for item in admin.get("/v1/agents").json["items"])
    assert created["token"] not in admin.get("/v1/agents").get_data(as_text=True)


def test_the_new_agents_token_authenticates_it_with_its_role(admin: ApiClient, client: FlaskClient) -> None:
    created = create(admin, role="agent")
    walter = ApiClient(client, created["token"])
    assert walter.post("/v1/customers", json={"name": "Dana Scully"}).status_code == 201
    assert_problem(walter.get("/v1/agents"), 403, "forbidden")  # an agent, not an admin


def test_every_agent_gets_its_own_token(admin: ApiClient) -> None:
    tokens = {create(admin, name=f"Agent {n}")["token"] for n in range(3)}
    assert len(tokens) == 3


def test_a_name_of_exactly_200_characters_is_accepted(admin: ApiClient) -> None:
    assert create(admin, name="x" * 200)["name"] == "x" * 200


@pytest.mark.parametrize("role", ["admin", "agent", "marketing", "integration"])
def test_an_agent_can_be_created_with_each_role(admin: ApiClient, role: str) -> None:
    assert create(admin, role=role)["role"] == role


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "Walter", "role": "boss"}, "/role"),
        ({"name": "Walter", "role": "Admin"}, "/role"),
        ({"name": "", "role": "agent"}, "/name"),
        ({"name": "   ", "role": "agent"}, "/name"),
        ({"name": "x" * 201, "role": "agent"}, "/name"),
        ({"name": 7, "role": "agent"}, "/name"),
        ({"role": "agent"}, "/name"),
        ({"name": "Walter"}, "/role"),
        ({"name": "Walter", "role": "agent", "token": "cnv_mine"}, "/token"),
    ],
    ids=[
        "unknown-role",
        "role-in-capitals",
        "empty-name",
        "blank-name",
        "name-of-201-chars",
        "name-not-a-string",
        "no-name",
        "no-role",
        "a-chosen-token",
    ],
)
def test_bad_agent_fields_are_a_422_problem_and_record_no_event(
    admin: ApiClient, application: CustomerRelations, body: dict[str, Any], pointer: str
) -> None:
    before = application.head_position
    problem = assert_problem(admin.post("/v1/agents", json=body), 422, "validation")
    assert pointer in [error["pointer"] for error in problem["errors"]]
    assert application.head_position == before
    assert len(admin.get("/v1/agents").json["items"]) == 1  # the bootstrap admin only


# ---- read -----------------------------------------------------------------------------------------


def test_the_list_holds_the_bootstrap_admin_then_every_new_agent_oldest_first(admin: ApiClient) -> None:
    walter = create(admin, "Walter Bishop", "marketing")
    olivia = create(admin, "Olivia Dunham", "integration")
    listed = admin.get("/v1/agents")
    assert listed.status_code == 200
    assert listed.json["next_cursor"] is None
    items = listed.json["items"]
    assert [(a["name"], a["role"], a["active"]) for a in items] == [
        ("admin", "admin", True),
        ("Walter Bishop", "marketing", True),
        ("Olivia Dunham", "integration", True),
    ]
    assert [a["id"] for a in items[1:]] == [walter["id"], olivia["id"]]
    assert all(set(a) == AGENT_FIELDS for a in items)


def test_the_list_keeps_revoked_agents_marked_inactive(admin: ApiClient) -> None:
    walter = create(admin)
    admin.delete(f"/v1/agents/{walter['id']}")
    listed = {a["id"]: a["active"] for a in admin.get("/v1/agents").json["items"]}
    assert listed[walter["id"]] is False


def test_an_unknown_agent_is_a_404_problem(admin: ApiClient) -> None:
    assert_problem(admin.get(f"/v1/agents/{uuid.uuid4()}"), 404, "not-found")


def test_an_agent_id_that_is_no_uuid_is_a_404_problem(admin: ApiClient) -> None:
    assert_problem(admin.get("/v1/agents/walter"), 404, "not-found")


# ---- revoke ---------------------------------------------------------------------------------------


def test_revoking_an_agent_deactivates_it_and_its_token_then_gets_401(
    admin: ApiClient, client: FlaskClient, application: CustomerRelations
) -> None:
    created = create(admin)
    walter = ApiClient(client, created["token"])
    assert walter.post("/v1/customers", json={"name": "Dana"}).status_code == 201
    revoked = admin.delete(f"/v1/agents/{created['id']}")
    assert revoked.status_code == 200, revoked.json
    assert revoked.json["active"] is False
    assert revoked.json["version"] == 2
    assert "token" not in revoked.json
    assert revoked.headers["ETag"] == '"2"'
    assert int(revoked.headers["Conversa-Position"]) == application.head_position
    response = walter.post("/v1/customers", json={"name": "Dana"})
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert admin.get(f"/v1/agents/{created['id']}").json["active"] is False


def test_an_admin_cannot_revoke_itself(admin: ApiClient, application: CustomerRelations) -> None:
    me = my_id(admin)
    before = application.head_position
    assert_problem(admin.delete(f"/v1/agents/{me}"), 422, "rule-violation")
    assert application.head_position == before
    assert admin.get(f"/v1/agents/{me}").json["active"] is True


def test_revoking_an_agent_twice_is_a_409_problem(admin: ApiClient, application: CustomerRelations) -> None:
    created = create(admin)
    assert admin.delete(f"/v1/agents/{created['id']}").status_code == 200
    before = application.head_position
    assert_problem(admin.delete(f"/v1/agents/{created['id']}"), 409, "conflict")
    assert application.head_position == before


def test_revoking_an_unknown_agent_is_a_404_problem(admin: ApiClient) -> None:
    assert_problem(admin.delete(f"/v1/agents/{uuid.uuid4()}"), 404, "not-found")


def test_a_second_admin_can_revoke_the_first(admin: ApiClient, client: FlaskClient) -> None:
    second = ApiClient(client, create(admin, "Nina Sharp", "admin")["token"])
    assert second.delete(f"/v1/agents/{my_id(admin)}").status_code == 200
    assert_problem(admin.get("/v1/agents"), 401, "unauthenticated")
    assert second.get("/v1/agents").status_code == 200


# ---- rotate ---------------------------------------------------------------------------------------


def test_a_new_token_works_and_the_old_one_gets_401_at_once(admin: ApiClient, client: FlaskClient) -> None:
    created = create(admin, role="admin")
    rotated = admin.post(f"/v1/agents/{created['id']}/token")
    assert rotated.status_code == 201, rotated.json
    assert rotated.json["token"] and rotated.json["token"] != created["token"]
    assert rotated.json["id"] == created["id"]
    assert (rotated.json["role"], rotated.json["active"], rotated.json["version"]) == ("admin", True, 2)
    assert rotated.headers["Location"].endswith(f"/v1/agents/{created['id']}")
    assert rotated.headers["ETag"] == '"2"'
    assert_problem(ApiClient(client, created["token"]).get("/v1/agents"), 401, "unauthenticated")
    assert ApiClient(client, rotated.json["token"]).get("/v1/agents").status_code == 200


def test_rotating_twice_leaves_only_the_latest_token_working(admin: ApiClient, client: FlaskClient) -> None:
    created = create(admin, role="admin")
    first = admin.post(f"/v1/agents/{created['id']}/token").json["token"]
    second = admin.post(f"/v1/agents/{created['id']}/token").json["token"]
    assert_problem(ApiClient(client, first).get("/v1/agents"), 401, "unauthenticated")
    assert ApiClient(client, second).get("/v1/agents").status_code == 200


def test_an_admin_can_rotate_its_own_token(admin: ApiClient, client: FlaskClient) -> None:
    rotated = admin.post(f"/v1/agents/{my_id(admin)}/token")
    assert rotated.status_code == 201, rotated.json
    assert_problem(admin.get("/v1/agents"), 401, "unauthenticated")
    assert ApiClient(client, rotated.json["token"]).get("/v1/agents").status_code == 200


def test_a_revoked_agent_gets_no_new_token(
    admin: ApiClient, client: FlaskClient, application: CustomerRelations
) -> None:
    created = create(admin)
    admin.delete(f"/v1/agents/{created['id']}")
    before = application.head_position
    assert_problem(admin.post(f"/v1/agents/{created['id']}/token"), 409, "conflict")
    assert application.head_position == before


# If-Match was documented on both and ignored by both; the contract fuzzer sent "%|" and got a 201.
@pytest.mark.parametrize(("method", "tail"), [("post", "/token"), ("delete", "")], ids=["rotate", "revoke"])
def test_rotating_or_revoking_with_a_stale_if_match_is_a_412_and_records_nothing(
    admin: ApiClient, application: CustomerRelations, method: str, tail: str
) -> None:
    agent = create(admin)
    admin.post(f"/v1/agents/{agent['id']}/token")
    before = application.head_position
    response = getattr(admin, method)(f"/v1/agents/{agent['id']}{tail}", headers={"If-Match": f'"{agent["version"]}"'})
    assert_problem(response, 412, "stale-version")
    assert application.head_position == before


@pytest.mark.parametrize(("method", "tail"), [("post", "/token"), ("delete", "")], ids=["rotate", "revoke"])
def test_rotating_or_revoking_with_an_if_match_that_is_no_entity_tag_is_a_400(
    admin: ApiClient, application: CustomerRelations, method: str, tail: str
) -> None:
    agent = create(admin)
    before = application.head_position
    response = getattr(admin, method)(f"/v1/agents/{agent['id']}{tail}", headers={"If-Match": "%|"})
    assert_problem(response, 400, "bad-precondition")
    assert application.head_position == before


@pytest.mark.parametrize(("method", "tail"), [("post", "/token"), ("delete", "")], ids=["rotate", "revoke"])
def test_rotating_or_revoking_with_the_current_etag_succeeds(admin: ApiClient, method: str, tail: str) -> None:
    agent = create(admin)
    etag = admin.get(f"/v1/agents/{agent['id']}").headers["ETag"]
    response = getattr(admin, method)(f"/v1/agents/{agent['id']}{tail}", headers={"If-Match": etag})
    assert response.status_code in (200, 201), response.json


def test_rotating_the_token_of_an_unknown_agent_is_a_404_problem(admin: ApiClient) -> None:
    assert_problem(admin.post(f"/v1/agents/{uuid.uuid4()}/token"), 404, "not-found")


def test_the_agent_list_is_paginated_by_cursor_oldest_first(admin: ApiClient) -> None:
    for number in range(4):
        assert admin.post("/v1/agents", json={"name": f"Agent {number}", "role": "agent"}).status_code == 201

    pages, url = [], "/v1/agents?limit=2"
    while url:
        answer = admin.get(url).json
        pages.append([agent["name"] for agent in answer["items"]])
        url = f"/v1/agents?limit=2&cursor={answer['next_cursor']}" if answer["next_cursor"] else ""

    assert pages == [["admin", "Agent 0"], ["Agent 1", "Agent 2"], ["Agent 3"]]
