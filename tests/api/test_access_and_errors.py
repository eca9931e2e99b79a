"""Agents and their tokens, who may do what, and the shape of every error."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.application import CustomerRelations
from service.app import create_app
from service.auth import PERMISSIONS
from service.settings import Settings
from tests.api.test_customer_endpoints import assert_problem, register
from tests.conftest import ApiClient

ROLES = ("admin", "agent", "marketing", "integration")


def test_a_new_agents_token_is_shown_once_and_works(admin: ApiClient, client: FlaskClient) -> None:
    created = admin.post("/v1/agents", json={"name": "Walter", "role": "agent"})
    assert created.status_code == 201
    assert created.headers["Location"] == f"/v1/agents/{created.json['id']}"
    token = created.json["token"]
    assert "token" not in admin.get(f"/v1/agents/{created.json['id']}").json
    assert ApiClient(client, token).post("/v1/customers", json={"name": "X"}).status_code == 201


def test_the_agent_list_holds_the_first_admin_and_every_agent_since(admin: ApiClient) -> None:
    admin.post("/v1/agents", json={"name": "Walter", "role": "marketing"})
    listed = admin.get("/v1/agents").json["items"]
    assert [(a["name"], a["role"], a["active"]) for a in listed] == [
        ("admin", "admin", True),
        ("Walter", "marketing", True),
    ]


def test_a_revoked_agent_is_locked_out_and_an_admin_cannot_revoke_itself(admin: ApiClient, client: FlaskClient) -> None:
    created = admin.post("/v1/agents", json={"name": "Walter", "role": "agent"}).json
    walter = ApiClient(client, created["token"])
    assert admin.delete(f"/v1/agents/{created['id']}").json["active"] is False
    assert_problem(walter.get("/v1/agents"), 401, "unauthenticated")
    assert_problem(admin.delete(f"/v1/agents/{created['id']}"), 409, "conflict")
    me = next(a for a in admin.get("/v1/agents").json["items"] if a["name"] == "admin")
    assert_problem(admin.delete(f"/v1/agents/{me['id']}"), 422, "rule-violation")


def test_a_new_token_replaces_the_old_one_at_once(admin: ApiClient, client: FlaskClient) -> None:
    created = admin.post("/v1/agents", json={"name": "Walter", "role": "admin"}).json
    rotated = admin.post(f"/v1/agents/{created['id']}/token")
    assert rotated.status_code == 201 and rotated.json["token"] != created["token"]
    assert_problem(ApiClient(client, created["token"]).get("/v1/agents"), 401, "unauthenticated")
    assert ApiClient(client, rotated.json["token"]).get("/v1/agents").status_code == 200


@pytest.mark.parametrize(
    "body", [{"name": "W", "role": "boss"}, {"name": "", "role": "agent"}, {"name": "x" * 201, "role": "agent"}]
)
def test_bad_agent_fields_are_refused_and_record_nothing(
    admin: ApiClient, application: CustomerRelations, body: dict[str, Any]
) -> None:
    before = application.head_position
    assert_problem(admin.post("/v1/agents", json=body), 422, "validation")
    assert application.head_position == before


# One representative request per permission; {customer}, {conversation} and {contribution} are
# filled with real ids. The expected answer for each role comes from service/auth.py's table.
REQUESTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "customers:read": ("get", "/v1/customers/{customer}", None),
    "customers:write": ("post", "/v1/customers/{customer}/tags", {"tag": "vip"}),
    "customers:forget": ("post", "/v1/customers/{customer}/forget", {}),
    "conversations:read": ("get", "/v1/conversations/{conversation}", None),
    "conversations:write": ("post", "/v1/conversations/{conversation}/notes", {"text": "hello"}),
    "contributions:read": ("get", "/v1/contributions/{contribution}", None),
    "contributions:write": (
        "post",
        "/v1/contributions",
        {"customer_id": "{customer}", "kind": "idea", "title": "Dark mode", "body": "Please"},
    ),
    "contributions:curate": ("put", "/v1/contributions/{contribution}/status", {"status": "under_review"}),
    "agents:manage": ("get", "/v1/agents", None),
}


def test_every_permission_has_a_request_in_the_matrix() -> None:
    assert set(REQUESTS) == set(PERMISSIONS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("permission", sorted(REQUESTS))
def test_each_role_gets_exactly_the_rights_of_the_permission_table(
    agent: ApiClient, as_role: Any, role: str, permission: str
) -> None:
    customer = register(agent)
    conversation = agent.post("/v1/conversations", json={"customer_id": customer["id"], "channel": "web"}).json
    contribution = agent.post(
        "/v1/contributions", json={"customer_id": customer["id"], "kind": "idea", "title": "t", "body": "b"}
    ).json
    method, template, body_template = REQUESTS[permission]
    ids = {"customer": customer["id"], "conversation": conversation["id"], "contribution": contribution["id"]}
    url = template.format(**ids)
    body = (
        {k: v.format(**ids) if isinstance(v, str) else v for k, v in body_template.items()} if body_template else None
    )
    caller = as_role(role)
    response = getattr(caller, method)(url, json=body) if body is not None else getattr(caller, method)(url)
    if role in PERMISSIONS[permission]:
        assert 200 <= response.status_code < 300, response.json
    else:
        assert_problem(response, 403, "forbidden")


def test_the_permission_table_says_what_design_md_says() -> None:
    assert PERMISSIONS["agents:manage"] == ("admin",)
    assert PERMISSIONS["customers:forget"] == ("admin",)
    assert "marketing" not in PERMISSIONS["conversations:write"]  # marketing never replies
    assert "marketing" in PERMISSIONS["customers:read"] and "marketing" in PERMISSIONS["contributions:read"]
    assert all("integration" not in roles for roles in PERMISSIONS.values())  # ingest, feed, webhooks only


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer cnv_not-a-real-token"])
def test_a_missing_or_wrong_token_is_a_401_with_a_challenge(
    client: FlaskClient, admin_token: str, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/v1/agents", headers=headers)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_credentials_are_checked_before_the_body(client: FlaskClient, admin_token: str) -> None:
    assert_problem(client.post("/v1/customers", json={"nonsense": True}), 401, "unauthenticated")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs"])
def test_health_and_documentation_need_no_token(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_malformed_json_is_a_400_problem_and_records_nothing(
    admin: ApiClient, client: FlaskClient, application: CustomerRelations
) -> None:
    before = application.head_position
    response = client.post(
        "/v1/customers",
        data='{"name": "Dana"',
        content_type="application/json",
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert_problem(response, 400, "bad-request")
    assert application.head_position == before


def test_a_json_array_instead_of_an_object_is_refused(admin: ApiClient) -> None:
    assert_problem(admin.post("/v1/customers", json=[{"name": "Dana"}]), 422, "validation")


def test_a_body_over_the_limit_is_a_413_problem(settings: Settings, application: CustomerRelations) -> None:
    small: Flask = create_app({"TESTING": True}, settings=dataclasses.replace(settings, max_body_bytes=1000))
    try:
        token = application.bootstrap_admin() or ""
        before = application.head_position
        response = small.test_client().post(
            "/v1/customers", json={"name": "x" * 2000}, headers={"Authorization": f"Bearer {token}"}
        )
        assert_problem(response, 413, "body-too-large")
        assert application.head_position == before
    finally:
        small.extensions["conversa"].close()


def test_a_body_over_one_mebibyte_is_refused_by_default(admin: ApiClient) -> None:
    response = admin.post("/v1/customers", json={"name": "Dana", "padding": "x" * (1024 * 1024)})
    assert_problem(response, 413, "body-too-large")


def test_unknown_routes_and_methods_are_problems_too(admin: ApiClient) -> None:
    assert_problem(admin.get("/v1/nothing-here"), 404, "not-found")
    wrong_method = admin.delete("/v1/customers")
    assert_problem(wrong_method, 405, "method-not-allowed")
    assert "POST" in wrong_method.headers["Allow"]
