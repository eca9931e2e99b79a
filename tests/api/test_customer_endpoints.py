"""Customers over HTTP: every write endpoint, reads from the aggregate, errors that change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from domain.application import CustomerRelations
from tests.conftest import ApiClient

PROBLEM = "application/problem+json"


def register(client: ApiClient, name: str = "Dana Scully", handle: str = "@dana", **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/customers", json={"name": name, "identities": [{"channel": "twitter", "handle": handle}], **extra}
    )
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def assert_problem(response: Any, status: int, slug: str) -> None:
    assert response.status_code == status, response.json
    assert response.content_type == PROBLEM
    assert response.json["type"] == f"urn:conversa:problem:{slug}"
    assert response.json["status"] == status
    assert response.json["title"] and response.json["detail"]


def test_registering_answers_201_with_location_version_and_log_position(
    agent: ApiClient, application: CustomerRelations
) -> None:
    response = agent.post(
        "/v1/customers",
        json={"name": "Dana", "identities": [{"channel": "twitter", "handle": "@dana"}], "email": "d@example.com"},
    )
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v1/customers/{response.json['id']}"
    assert response.headers["ETag"] == '"1"'
    assert int(response.headers["Conversa-Position"]) == application.head_position
    assert response.json["identities"] == [{"channel": "twitter", "handle": "@dana"}]
    assert response.json["email"] == "d@example.com"


def test_a_customer_is_read_back_from_its_own_history_with_its_version(agent: ApiClient) -> None:
    customer = register(agent)
    response = agent.get(f"/v1/customers/{customer['id']}")
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert response.json["name"] == "Dana Scully"


def test_an_identity_belongs_to_one_customer_whatever_the_case_of_the_handle(
    agent: ApiClient, application: CustomerRelations
) -> None:
    first = register(agent, handle="@Dana")
    before = application.head_position
    response = agent.post(
        "/v1/customers", json={"name": "Other", "identities": [{"channel": "twitter", "handle": "@DANA"}]}
    )
    assert_problem(response, 409, "duplicate-identity")
    assert first["id"] in response.json["detail"]
    assert application.head_position == before


def test_unlinking_an_identity_frees_it_for_another_customer(agent: ApiClient) -> None:
    first = register(agent, handle="@dana")
    response = agent.delete(f"/v1/customers/{first['id']}/identities/twitter/@dana")
    assert response.status_code == 200
    assert response.json["identities"] == []
    register(agent, name="New owner", handle="@dana")


def test_linking_an_identity_held_by_someone_else_is_refused(agent: ApiClient) -> None:
    register(agent, handle="@dana")
    other = register(agent, name="Fox", handle="@fox")
    response = agent.post(f"/v1/customers/{other['id']}/identities", json={"channel": "twitter", "handle": "@dana"})
    assert_problem(response, 409, "duplicate-identity")
    linked = agent.post(f"/v1/customers/{other['id']}/identities", json={"channel": "email", "handle": "fox@x.org"})
    assert linked.status_code == 201
    assert {"channel": "email", "handle": "fox@x.org"} in linked.json["identities"]


def test_a_patch_records_only_real_changes(agent: ApiClient) -> None:
    customer = register(agent)
    same = agent.patch(f"/v1/customers/{customer['id']}", json={"name": "Dana Scully"})
    assert same.status_code == 200 and same.headers["ETag"] == '"1"'
    assert "Conversa-Position" not in same.headers
    changed = agent.patch(f"/v1/customers/{customer['id']}", json={"name": "Dana K. Scully", "locale": "en-US"})
    assert changed.headers["ETag"] == '"2"'
    assert (changed.json["name"], changed.json["locale"]) == ("Dana K. Scully", "en-US")


def test_a_stale_if_match_is_refused_with_412_and_changes_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    customer = register(agent)
    agent.patch(f"/v1/customers/{customer['id']}", json={"name": "Dana K."})
    before = application.head_position
    response = agent.patch(f"/v1/customers/{customer['id']}", json={"name": "Late"}, headers={"If-Match": '"1"'})
    assert_problem(response, 412, "stale-version")
    assert application.head_position == before
    fresh = agent.patch(f"/v1/customers/{customer['id']}", json={"name": "On time"}, headers={"If-Match": '"2"'})
    assert fresh.status_code == 200 and fresh.json["name"] == "On time"


def test_a_malformed_if_match_is_a_bad_request(agent: ApiClient) -> None:
    customer = register(agent)
    response = agent.patch(f"/v1/customers/{customer['id']}", json={"name": "X"}, headers={"If-Match": "yesterday"})
    assert_problem(response, 400, "bad-precondition")


def test_consent_is_recorded_with_who_changed_it_and_how(agent: ApiClient) -> None:
    customer = register(agent)
    given = agent.put(f"/v1/customers/{customer['id']}/consent", json={"given": True, "source": "web form"})
    assert given.json["marketing_consent"] is True
    withdrawn = agent.put(f"/v1/customers/{customer['id']}/consent", json={"given": False})
    history = withdrawn.json["consent_history"]
    assert [(h["given"], h["source"]) for h in history] == [(True, "web form"), (False, None)]
    assert history[0]["actor"]["name"] == "Ann Agent"


@pytest.mark.parametrize("score", [11, -1, 5.5, "7", None])
def test_nps_outside_0_to_10_or_not_a_whole_number_is_refused(
    agent: ApiClient, application: CustomerRelations, score: Any
) -> None:
    customer = register(agent)
    before = application.head_position
    response = agent.post(f"/v1/customers/{customer['id']}/nps", json={"score": score})
    assert_problem(response, 422, "validation")
    assert response.json["errors"][0]["pointer"] == "/score"
    assert application.head_position == before


def test_nps_answers_are_kept_in_order_with_the_latest_first_class(agent: ApiClient) -> None:
    customer = register(agent)
    agent.post(f"/v1/customers/{customer['id']}/nps", json={"score": 6})
    response = agent.post(f"/v1/customers/{customer['id']}/nps", json={"score": 9, "comment": "Much better"})
    assert response.status_code == 201
    assert response.json["latest_nps"] == 9
    assert [n["score"] for n in response.json["nps_history"]] == [6, 9]


def test_tags_are_added_once_and_removed(agent: ApiClient) -> None:
    customer = register(agent)
    agent.post(f"/v1/customers/{customer['id']}/tags", json={"tag": "vip"})
    twice = agent.post(f"/v1/customers/{customer['id']}/tags", json={"tag": "vip"})
    assert twice.json["tags"] == ["vip"]
    removed = agent.delete(f"/v1/customers/{customer['id']}/tags/vip")
    assert removed.json["tags"] == []


def test_a_tag_over_50_characters_is_refused(agent: ApiClient) -> None:
    customer = register(agent)
    assert_problem(agent.post(f"/v1/customers/{customer['id']}/tags", json={"tag": "x" * 51}), 422, "validation")


def test_merging_keeps_the_duplicate_pointing_at_the_survivor(agent: ApiClient) -> None:
    survivor = register(agent, name="Dana", handle="@dana")
    duplicate = register(agent, name="D. Scully", handle="@dscully")
    merged = agent.post(f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]})
    assert merged.status_code == 200
    assert merged.json["merged_duplicates"] == [duplicate["id"]]
    assert agent.get(f"/v1/customers/{duplicate['id']}").json["merged_into"] == survivor["id"]
    refused = agent.post(f"/v1/customers/{duplicate['id']}/tags", json={"tag": "vip"})
    assert_problem(refused, 409, "customer-inactive")


def test_a_customer_cannot_be_merged_into_itself(agent: ApiClient) -> None:
    customer = register(agent)
    response = agent.post(f"/v1/customers/{customer['id']}/merge", json={"duplicate_id": customer["id"]})
    assert_problem(response, 422, "rule-violation")


def test_only_an_admin_may_forget_a_customer(agent: ApiClient, admin: ApiClient) -> None:
    customer = register(agent)
    assert_problem(agent.post(f"/v1/customers/{customer['id']}/forget", json={}), 403, "forbidden")
    forgotten = admin.post(f"/v1/customers/{customer['id']}/forget", json={"reason": "GDPR request"})
    assert forgotten.status_code == 200
    assert forgotten.json["name"] == "[forgotten]"
    assert forgotten.json["forgotten"] is True
    assert forgotten.json["identities"] == [] and forgotten.json["email"] is None


def test_a_forgotten_customer_takes_no_more_changes_and_frees_its_identities(
    agent: ApiClient, admin: ApiClient
) -> None:
    customer = register(agent, handle="@dana")
    admin.post(f"/v1/customers/{customer['id']}/forget", json={})
    assert_problem(agent.post(f"/v1/customers/{customer['id']}/nps", json={"score": 3}), 409, "customer-inactive")
    assert_problem(admin.post(f"/v1/customers/{customer['id']}/forget", json={}), 409, "customer-inactive")
    again = register(agent, name="Someone new", handle="@dana")
    assert again["id"] != customer["id"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "x" * 201}, "/name"),
        ({"name": "   "}, "/name"),
        ({"name": 42}, "/name"),
        ({"name": "Dana", "email": "not an e-mail"}, "/email"),
        ({"name": "Dana", "locale": "english please"}, "/locale"),
        ({"name": "Dana", "identities": [{"channel": "Twitter!", "handle": "@d"}]}, "/identities/0/channel"),
        ({"name": "Dana", "nickname": "D"}, "/nickname"),
        ({}, "/name"),
    ],
)
def test_bad_customer_fields_get_a_problem_with_a_pointer_and_record_nothing(
    agent: ApiClient, application: CustomerRelations, body: dict[str, Any], pointer: str
) -> None:
    before = application.head_position
    response = agent.post("/v1/customers", json=body)
    assert_problem(response, 422, "validation")
    assert pointer in [error["pointer"] for error in response.json["errors"]]
    assert application.head_position == before


def test_an_unknown_customer_is_a_404_problem(agent: ApiClient) -> None:
    assert_problem(agent.get("/v1/customers/00000000-0000-4000-8000-000000000000"), 404, "not-found")
    assert_problem(agent.get("/v1/customers/not-a-uuid"), 404, "not-found")


def test_a_conversation_id_is_not_a_customer(agent: ApiClient) -> None:
    customer = register(agent)
    conversation = agent.post("/v1/conversations", json={"customer_id": customer["id"], "channel": "twitter"})
    assert_problem(agent.get(f"/v1/customers/{conversation.json['id']}"), 404, "not-found")


def test_marketing_reads_customers_but_changes_none(as_role: Any, agent: ApiClient) -> None:
    customer = register(agent)
    marketing = as_role("marketing")
    assert marketing.get(f"/v1/customers/{customer['id']}").status_code == 200
    assert_problem(marketing.post(f"/v1/customers/{customer['id']}/tags", json={"tag": "x"}), 403, "forbidden")
