"""Who may call what: bearer tokens, and the one permission table of service/auth.py."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.actor import SYSTEM
from domain.agent import ROLES
from domain.application import CustomerRelations, InboundMessage
from service.app import openapi_document
from service.auth import PERMISSIONS
from tests.api.test_errors import assert_problem
from tests.conftest import ApiClient

PUBLIC_PATHS = ("/healthz", "/readyz", "/openapi.json", "/docs")
# The contract itself and its documentation page are no operations of the contract.
PUBLIC_PATH_PARAMS = [
    pytest.param(
        path, marks=[pytest.mark.outside_contract("not an API operation")] if path in ("/openapi.json", "/docs") else []
    )
    for path in PUBLIC_PATHS
]

# One representative request per permission: (method, URL template, JSON body or None).
# {customer}, {conversation} and {contribution} are filled in with the ids of real aggregates.
REQUESTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "customers:read": ("get", "/v1/customers/{customer}", None),
    "customers:write": ("post", "/v1/customers", {"name": "Fox Mulder"}),
    "customers:forget": ("post", "/v1/customers/{customer}/forget", {"reason": "asked by e-mail"}),
    "customers:export": ("get", "/v1/customers/{customer}/export", None),
    "conversations:read": ("get", "/v1/conversations/{conversation}", None),
    "conversations:write": ("post", "/v1/conversations/{conversation}/replies", {"text": "We are on it. — Ann"}),
    "contributions:read": ("get", "/v1/contributions/{contribution}", None),
    "contributions:write": (
        "post",
        "/v1/contributions",
        {"customer_id": "{customer}", "kind": "idea", "title": "Dark mode", "body": "Please add one."},
    ),
    "contributions:curate": ("put", "/v1/contributions/{contribution}/status", {"status": "under_review"}),
    "agents:manage": ("post", "/v1/agents", {"name": "New Hire", "role": "agent"}),
    "ingest:write": (
        "post",
        "/v1/ingest/messages",
        {
            "messages": [
                {
                    "channel": "twitter",
                    "external_id": "t1",
                    "direction": "inbound",
                    "author": {"handle": "@walter"},
                    "text": "Hello?",
                    "occurred_at": "2026-11-23T10:00:00Z",
                }
            ]
        },
    ),
    "events:read": ("get", "/v1/events", None),
    "webhooks:manage": (
        "post",
        "/v1/webhooks",
        {"url": "https://hooks.example.com/x", "event_types": ["message.received"], "secret": "s" * 32},
    ),
}

# The OpenAPI path of each representative request, to check it is guarded by that permission.
OPENAPI_PATHS = {
    "customers:read": "/v1/customers/{customer_id}",
    "customers:write": "/v1/customers",
    "customers:forget": "/v1/customers/{customer_id}/forget",
    "customers:export": "/v1/customers/{customer_id}/export",
    "conversations:read": "/v1/conversations/{conversation_id}",
    "conversations:write": "/v1/conversations/{conversation_id}/replies",
    "contributions:read": "/v1/contributions/{contribution_id}",
    "contributions:write": "/v1/contributions",
    "contributions:curate": "/v1/contributions/{contribution_id}/status",
    "agents:manage": "/v1/agents",
    "ingest:write": "/v1/ingest/messages",
    "events:read": "/v1/events",
    "webhooks:manage": "/v1/webhooks",
}


@pytest.fixture
def ids(application: CustomerRelations) -> dict[str, str]:
    """A customer with a conversation and a contribution, written without going through HTTP."""
    customer = application.register_customer("Dana Scully", [], None, None, actor=SYSTEM).aggregate
    conversation = application.start_conversation(
        customer.id, "web", "Refund", "public", actor=SYSTEM, message=InboundMessage(text="Where is my refund?")
    ).aggregate
    contribution = application.submit_contribution(
        customer.id, "idea", "Offline mode", "Let me read on the train.", None, None, actor=SYSTEM
    ).aggregate
    return {"customer": str(customer.id), "conversation": str(conversation.id), "contribution": str(contribution.id)}


def send(caller: ApiClient, permission: str, ids: dict[str, str]) -> Any:
    """Make the representative request of a permission."""
    method, template, body = REQUESTS[permission]
    url = template.format(**ids)
    if body is None:
        return getattr(caller, method)(url)
    filled = {key: value.format(**ids) if isinstance(value, str) else value for key, value in body.items()}
    return getattr(caller, method)(url, json=filled)


# ---- the permission table, checked by requests ---------------------------------------------------


def test_the_matrix_has_a_request_for_every_permission_in_the_table() -> None:
    assert set(REQUESTS) == set(PERMISSIONS) == set(OPENAPI_PATHS)


def test_the_table_names_only_known_roles() -> None:
    assert {role for roles in PERMISSIONS.values() for role in roles} <= set(ROLES)


@pytest.mark.parametrize("permission", sorted(OPENAPI_PATHS))
def test_each_representative_request_is_guarded_by_its_own_permission(app: Flask, permission: str) -> None:
    method = REQUESTS[permission][0]
    operation = openapi_document(app)["paths"][OPENAPI_PATHS[permission]][method]
    assert operation["x-roles"] == list(PERMISSIONS[permission])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
def test_a_role_may_make_a_request_exactly_when_the_table_gives_it_the_permission(
    as_role: Any, ids: dict[str, str], application: CustomerRelations, permission: str, role: str
) -> None:
    caller = as_role(role)
    before = application.head_position
    response = send(caller, permission, ids)
    if role in PERMISSIONS[permission]:
        assert 200 <= response.status_code < 300, (response.status_code, response.get_data(as_text=True))
    else:
        problem = assert_problem(response, 403, "forbidden")
        assert role in problem["detail"]
        assert application.head_position == before


# ---- what DESIGN.md says, checked independently of the table -------------------------------------


def test_the_table_agrees_with_design_md() -> None:
    assert PERMISSIONS["agents:manage"] == ("admin",)  # only admins manage agents
    assert all("admin" in roles for roles in PERMISSIONS.values())  # admin does everything
    assert "marketing" not in PERMISSIONS["conversations:write"]  # marketing never replies
    assert "marketing" in PERMISSIONS["customers:read"]  # marketing reads customers...
    assert "marketing" in PERMISSIONS["contributions:read"]  # ...and contributions
    assert "integration" not in PERMISSIONS["customers:read"]  # integrations ingest, they do not browse
    assert {"customers:write", "conversations:read", "conversations:write"} <= {
        permission for permission, roles in PERMISSIONS.items() if "agent" in roles
    }  # support work


def test_marketing_cannot_reply_to_a_conversation(as_role: Any, ids: dict[str, str]) -> None:
    marketing = as_role("marketing")
    response = marketing.post(f"/v1/conversations/{ids['conversation']}/replies", json={"text": "Buy more!"})
    assert_problem(response, 403, "forbidden")


def test_marketing_reads_customers_and_contributions(as_role: Any, ids: dict[str, str]) -> None:
    marketing = as_role("marketing")
    assert marketing.get(f"/v1/customers/{ids['customer']}").status_code == 200
    assert marketing.get(f"/v1/contributions/{ids['contribution']}").status_code == 200


def test_integration_cannot_read_customers(as_role: Any, ids: dict[str, str]) -> None:
    integration = as_role("integration")
    assert_problem(integration.get(f"/v1/customers/{ids['customer']}"), 403, "forbidden")
    assert_problem(integration.get("/v1/customers"), 403, "forbidden")


def test_a_support_agent_replies_to_a_conversation(agent: ApiClient, ids: dict[str, str]) -> None:
    response = agent.post(f"/v1/conversations/{ids['conversation']}/replies", json={"text": "On it. — Ann"})
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("role", ["agent", "marketing", "integration"])
def test_only_an_admin_manages_agents(
    as_role: Any, admin: ApiClient, application: CustomerRelations, role: str
) -> None:
    caller = as_role(role)
    target = admin.post("/v1/agents", json={"name": "Target", "role": "agent"}).json["id"]
    before = application.head_position
    assert_problem(caller.get("/v1/agents"), 403, "forbidden")
    assert_problem(caller.post("/v1/agents", json={"name": "Me too", "role": "admin"}), 403, "forbidden")
    assert_problem(caller.get(f"/v1/agents/{target}"), 403, "forbidden")
    assert_problem(caller.delete(f"/v1/agents/{target}"), 403, "forbidden")
    assert_problem(caller.post(f"/v1/agents/{target}/token"), 403, "forbidden")
    assert application.head_position == before
    assert admin.get(f"/v1/agents/{target}").json["active"] is True


def test_an_admin_manages_agents(admin: ApiClient) -> None:
    target = admin.post("/v1/agents", json={"name": "Target", "role": "agent"})
    assert target.status_code == 201
    assert admin.get("/v1/agents").status_code == 200
    assert admin.post(f"/v1/agents/{target.json['id']}/token").status_code == 201
    assert admin.delete(f"/v1/agents/{target.json['id']}").status_code == 200


# ---- credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNzd29yZA==", "Token cnv_x", "Bearer cnv_unknown"],
    ids=[
        "no-header",
        "empty-header",
        "bearer-alone",
        "bearer-space",
        "bearer-blanks",
        "basic",
        "other-scheme",
        "unknown",
    ],
)
def test_a_missing_or_wrong_token_is_a_401_problem_with_a_bearer_challenge(
    client: FlaskClient, admin_token: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/v1/customers", headers=headers)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_valid_token_under_another_scheme_is_refused(client: FlaskClient, admin_token: str) -> None:
    response = client.get("/v1/agents", headers={"Authorization": f"Basic {admin_token}"})
    assert_problem(response, 401, "unauthenticated")
    assert "WWW-Authenticate" in response.headers


def test_the_scheme_name_is_case_insensitive(client: FlaskClient, admin_token: str) -> None:
    assert client.get("/v1/agents", headers={"Authorization": f"bearer {admin_token}"}).status_code == 200


def test_a_token_with_one_character_changed_is_refused(client: FlaskClient, admin_token: str) -> None:
    tampered = admin_token[:-1] + ("A" if admin_token[-1] != "A" else "B")
    assert_problem(ApiClient(client, tampered).get("/v1/agents"), 401, "unauthenticated")


def test_credentials_are_checked_before_the_body(client: FlaskClient, application: CustomerRelations) -> None:
    before = application.head_position
    bad_fields = client.post("/v1/customers", json={"nonsense": True})
    assert_problem(bad_fields, 401, "unauthenticated")
    malformed = client.post("/v1/customers", data="{not json", content_type="application/json")
    assert_problem(malformed, 401, "unauthenticated")
    wrong_token = client.post("/v1/customers", json=[], headers={"Authorization": "Bearer cnv_unknown"})
    assert_problem(wrong_token, 401, "unauthenticated")
    assert application.head_position == before


def test_rights_are_checked_before_the_body(as_role: Any) -> None:
    marketing = as_role("marketing")
    assert_problem(marketing.post("/v1/customers", json={"nonsense": True}), 403, "forbidden")
    assert_problem(marketing.post("/v1/agents", json={"role": "boss"}), 403, "forbidden")


def test_every_v1_route_asks_for_a_token(app: Flask, client: FlaskClient) -> None:
    calls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        url = re.sub(r"<[^>]+>", "x", re.sub(r"<uuid:[^>]+>", lambda _: str(uuid.uuid4()), rule.rule))
        calls += [(method, url) for method in sorted(rule.methods or ()) if method not in ("HEAD", "OPTIONS")]
    assert len(calls) >= 40  # every resource of DESIGN.md's table that exists so far
    for method, url in calls:
        response = client.open(url, method=method, json={})
        assert response.status_code == 401, (method, url, response.status_code)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), (method, url)


def test_only_health_and_documentation_routes_live_outside_v1(app: Flask) -> None:
    outside = {rule.rule for rule in app.url_map.iter_rules() if not rule.rule.startswith("/v1/")}
    assert outside - {"/static/<path:filename>"} == set(PUBLIC_PATHS)


@pytest.mark.parametrize("path", PUBLIC_PATH_PARAMS)
def test_health_and_documentation_answer_without_a_token(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("path", PUBLIC_PATH_PARAMS)
def test_health_and_documentation_answer_even_with_a_wrong_token(client: FlaskClient, path: str) -> None:
    assert client.get(path, headers={"Authorization": "Bearer cnv_unknown"}).status_code == 200


def test_the_openapi_document_declares_bearer_auth_except_on_health(app: Flask) -> None:
    document = openapi_document(app)
    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if path in PUBLIC_PATHS:
                assert operation["security"] == [], (method, path)
            else:
                assert "security" not in operation, (method, path)  # the document-wide bearerAuth applies
                assert operation["x-roles"] in [list(roles) for roles in PERMISSIONS.values()], (method, path)
