"""Customers over HTTP: every endpoint, its headers, its limits, its roles, and errors that record nothing."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from flask.testing import FlaskClient

from domain.application import CustomerRelations
from tests.conftest import ApiClient

PROBLEM = "application/problem+json"
PREFIX = "urn:conversa:problem:"
MISSING = str(uuid4())
WHOLE = "/"  # the JSON Pointer of the body as a whole (RFC 6901 spells it "", the API "/")


# ---- helpers --------------------------------------------------------------------------------------


def register(client: ApiClient, name: str = "Dana Scully", handle: str | None = "@dana", **extra: Any) -> Any:
    identities = [{"channel": "twitter", "handle": handle}] if handle else []
    response = client.post("/v1/customers", json={"name": name, "identities": identities, **extra})
    assert response.status_code == 201, response.json
    return response.json


def url(customer: Any, suffix: str = "") -> str:
    return f"/v1/customers/{customer['id']}{suffix}"


def assert_problem(response: Any, status: int, slug: str) -> Any:
    assert response.status_code == status, response.json
    assert response.content_type == PROBLEM
    body = response.json
    assert body["type"] == PREFIX + slug
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def assert_invalid(response: Any, *pointers: str) -> None:
    """A validation problem whose errors point at (at least) these members; WHOLE is the body itself."""
    body = assert_problem(response, 422, "validation")
    assert body["errors"], body
    for error in body["errors"]:
        assert error["detail"]
    found = {"/" if error["pointer"] in ("", "/") else error["pointer"] for error in body["errors"]}
    assert set(pointers) <= found, body["errors"]


def agent_id(application: CustomerRelations, client: ApiClient) -> str:
    return str(application.authenticate(client.token).id)


# ---- registering and reading ----------------------------------------------------------------------


def test_registering_a_customer_answers_201_with_location_first_version_and_log_position(
    agent: ApiClient, application: CustomerRelations
) -> None:
    response = agent.post(
        "/v1/customers",
        json={
            "name": "Dana Scully",
            "identities": [{"channel": "twitter", "handle": "@dana"}, {"channel": "email", "handle": "dana@fbi.gov"}],
            "email": "dana@fbi.gov",
            "locale": "en-US",
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert UUID(body["id"])
    assert response.headers["Location"] == f"/v1/customers/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert int(response.headers["Conversa-Position"]) == application.head_position
    assert body["version"] == 1
    assert body["name"] == "Dana Scully"
    assert body["identities"] == [
        {"channel": "twitter", "handle": "@dana"},
        {"channel": "email", "handle": "dana@fbi.gov"},
    ]
    assert body["email"] == "dana@fbi.gov"
    assert body["locale"] == "en-US"
    assert body["tags"] == [] and body["consent_history"] == [] and body["nps_history"] == []
    assert body["marketing_consent"] is False
    assert body["latest_nps"] is None
    assert body["merged_into"] is None and body["merged_duplicates"] == []
    assert body["forgotten"] is False and body["forgotten_at"] is None
    assert body["registered_at"].endswith("+00:00")


def test_a_customer_needs_only_a_name(agent: ApiClient) -> None:
    body = register(agent, name="Fox Mulder", handle=None)
    assert body["identities"] == [] and body["email"] is None and body["locale"] is None


def test_a_name_of_exactly_two_hundred_characters_is_accepted(agent: ApiClient) -> None:
    assert register(agent, name="n" * 200, handle=None)["name"] == "n" * 200


def test_the_location_of_a_new_customer_reads_it_back_with_its_version_as_etag(agent: ApiClient) -> None:
    created = agent.post("/v1/customers", json={"name": "Dana Scully"})
    response = agent.get(created.headers["Location"])
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert response.json == created.json


def test_reading_a_customer_records_nothing(agent: ApiClient, application: CustomerRelations) -> None:
    customer = register(agent)
    before = application.head_position
    assert agent.get(url(customer)).status_code == 200
    assert application.head_position == before


def test_registering_an_identity_listed_twice_in_any_case_is_refused(
    agent: ApiClient, application: CustomerRelations
) -> None:
    before = application.head_position
    response = agent.post(
        "/v1/customers",
        json={
            "name": "Dana",
            "identities": [{"channel": "twitter", "handle": "@dana"}, {"channel": "twitter", "handle": "@DANA"}],
        },
    )
    assert_problem(response, 422, "rule-violation")
    assert application.head_position == before


def test_registering_with_an_identity_of_another_customer_in_another_case_is_a_conflict(
    agent: ApiClient, application: CustomerRelations
) -> None:
    first = register(agent, handle="@Dana")
    before = application.head_position
    response = agent.post(
        "/v1/customers", json={"name": "Impostor", "identities": [{"channel": "twitter", "handle": "@dANA"}]}
    )
    body = assert_problem(response, 409, "duplicate-identity")
    assert first["id"] in body["detail"]
    assert application.head_position == before


# ---- bad input: a problem document and no event ---------------------------------------------------

INVALID_REGISTRATIONS = [
    pytest.param({"name": "Dana", "nickname": "D"}, "/nickname", id="unknown field"),
    pytest.param({"identities": []}, "/name", id="missing name"),
    pytest.param({"name": "n" * 201}, "/name", id="name over 200 characters"),
    pytest.param({"name": ""}, "/name", id="empty name"),
    pytest.param({"name": " \t\n "}, "/name", id="whitespace name"),
    pytest.param({"name": 42}, "/name", id="number as name"),
    pytest.param({"name": None}, "/name", id="null name"),
    pytest.param({"name": "Dana", "identities": "twitter:@dana"}, "/identities", id="identities not a list"),
    pytest.param(
        {"name": "Dana", "identities": [{"channel": "Twitter!", "handle": "@d"}]},
        "/identities/0/channel",
        id="bad channel",
    ),
    pytest.param({"name": "Dana", "identities": [{"channel": "twitter"}]}, "/identities/0/handle", id="no handle"),
    pytest.param(
        {"name": "Dana", "identities": [{"channel": "twitter", "handle": "h" * 201}]},
        "/identities/0/handle",
        id="handle over 200 characters",
    ),
    pytest.param(
        {"name": "Dana", "identities": [{"channel": "x", "handle": f"@{i}"} for i in range(21)]},
        "/identities",
        id="more than 20 identities",
    ),
    pytest.param({"name": "Dana", "email": "not-an-email"}, "/email", id="invalid email"),
    pytest.param({"name": "Dana", "email": 7}, "/email", id="number as email"),
    pytest.param({"name": "Dana", "email": "d" * 250 + "@x.org"}, "/email", id="email over 254 characters"),
    pytest.param({"name": "Dana", "locale": "english!"}, "/locale", id="bad locale"),
    pytest.param({"name": "Dana", "locale": "en_US"}, "/locale", id="locale with underscore"),
    pytest.param({"name": "Dana", "locale": ["en"]}, "/locale", id="list as locale"),
    pytest.param(["Dana"], WHOLE, id="body not an object"),
]


@pytest.mark.parametrize(("body", "pointer"), INVALID_REGISTRATIONS)
def test_an_invalid_registration_is_a_422_problem_with_a_pointer_and_records_nothing(
    agent: ApiClient, application: CustomerRelations, body: Any, pointer: str
) -> None:
    before = application.head_position
    response = agent.post("/v1/customers", json=body)
    assert_invalid(response, pointer)
    assert response.json["errors"][0]["location"] == "json"
    assert application.head_position == before


def test_a_body_that_is_not_json_is_a_400_problem_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    before = application.head_position
    response = agent.post("/v1/customers", data="{", headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "bad-request")
    assert application.head_position == before


INVALID_PATCHES = [
    pytest.param({}, WHOLE, id="nothing to change"),
    pytest.param({"tags": ["vip"]}, "/tags", id="unknown field"),
    pytest.param({"name": "n" * 201}, "/name", id="name over 200 characters"),
    pytest.param({"name": ""}, "/name", id="empty name"),
    pytest.param({"name": "   "}, "/name", id="whitespace name"),
    pytest.param({"name": None}, "/name", id="null name"),
    pytest.param({"name": ["Dana"]}, "/name", id="list as name"),
    pytest.param({"email": "dana-at-fbi"}, "/email", id="invalid email"),
    pytest.param({"locale": "e"}, "/locale", id="one-letter locale"),
    pytest.param({"locale": 12}, "/locale", id="number as locale"),
]


@pytest.mark.parametrize(("body", "pointer"), INVALID_PATCHES)
def test_an_invalid_profile_change_is_a_422_problem_and_records_nothing(
    agent: ApiClient, application: CustomerRelations, body: Any, pointer: str
) -> None:
    customer = register(agent)
    before = application.head_position
    assert_invalid(agent.patch(url(customer), json=body), pointer)
    assert application.head_position == before
    assert agent.get(url(customer)).json == customer


INVALID_WRITES = [
    pytest.param("post", "/identities", {"channel": "twitter"}, "/handle", id="identity without handle"),
    pytest.param("post", "/identities", {"channel": "TW", "handle": "@x"}, "/channel", id="identity bad channel"),
    pytest.param("post", "/identities", {"channel": "email", "handle": "  "}, "/handle", id="identity blank handle"),
    pytest.param(
        "post",
        "/identities",
        {"channel": "email", "handle": "x", "primary": True},
        "/primary",
        id="identity unknown field",
    ),
    pytest.param("put", "/consent", {"given": "yes"}, "/given", id="consent given yes"),
    pytest.param("put", "/consent", {"given": 1}, "/given", id="consent given 1"),
    pytest.param("put", "/consent", {"given": 0}, "/given", id="consent given 0"),
    pytest.param("put", "/consent", {"given": None}, "/given", id="consent given null"),
    pytest.param("put", "/consent", {"source": "web form"}, "/given", id="consent without given"),
    pytest.param("put", "/consent", {"given": True, "source": "s" * 1001}, "/source", id="consent source too long"),
    pytest.param("post", "/nps", {"score": 11}, "/score", id="nps 11"),
    pytest.param("post", "/nps", {"score": -1}, "/score", id="nps -1"),
    pytest.param("post", "/nps", {"score": 5.5}, "/score", id="nps 5.5"),
    pytest.param("post", "/nps", {"score": "7"}, "/score", id="nps string 7"),
    pytest.param("post", "/nps", {"score": True}, "/score", id="nps true"),
    pytest.param("post", "/nps", {}, "/score", id="nps without score"),
    pytest.param("post", "/nps", {"score": 7, "comment": "c" * 10_001}, "/comment", id="nps comment too long"),
    pytest.param(
        "post", "/nps", {"score": 7, "occurred_at": "2024-05-01T10:00:00"}, "/occurred_at", id="nps naive occurred_at"
    ),
    pytest.param("post", "/tags", {"tag": "t" * 51}, "/tag", id="tag over 50 characters"),
    pytest.param("post", "/tags", {"tag": ""}, "/tag", id="empty tag"),
    pytest.param("post", "/tags", {"tag": " vip"}, "/tag", id="tag with leading space"),
    pytest.param("post", "/tags", {"tag": ["vip"]}, "/tag", id="list as tag"),
    pytest.param("post", "/merge", {"duplicate_id": "someone"}, "/duplicate_id", id="merge non-uuid"),
    pytest.param("post", "/merge", {}, "/duplicate_id", id="merge without duplicate"),
    pytest.param("post", "/forget", {"reason": "r" * 1001}, "/reason", id="forget reason too long"),
    pytest.param("post", "/forget", {"why": "asked"}, "/why", id="forget unknown field"),
]


@pytest.mark.parametrize(("method", "suffix", "body", "pointer"), INVALID_WRITES)
def test_an_invalid_write_is_a_422_problem_with_a_pointer_and_records_nothing(
    admin: ApiClient, application: CustomerRelations, method: str, suffix: str, body: Any, pointer: str
) -> None:
    customer = register(admin)
    before = application.head_position
    response = getattr(admin, method)(url(customer, suffix), json=body)
    assert_invalid(response, pointer)
    assert application.head_position == before
    assert admin.get(url(customer)).headers["ETag"] == '"1"'


WRITES = [
    pytest.param("patch", "", {"name": "Fox"}, id="patch"),
    pytest.param("post", "/identities", {"channel": "email", "handle": "d@x.org"}, id="link identity"),
    pytest.param("delete", "/identities/twitter/@dana", None, id="unlink identity"),
    pytest.param("put", "/consent", {"given": True}, id="consent"),
    pytest.param("post", "/nps", {"score": 9}, id="nps"),
    pytest.param("post", "/tags", {"tag": "vip"}, id="tag"),
    pytest.param("delete", "/tags/vip", None, id="untag"),
    pytest.param("post", "/merge", {"duplicate_id": str(uuid4())}, id="merge"),
    pytest.param("post", "/forget", {}, id="forget"),
]
READS = [pytest.param("", id="customer"), pytest.param("/timeline", id="timeline")]


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_a_write_to_an_unknown_customer_is_a_404_problem_and_records_nothing(
    admin: ApiClient, application: CustomerRelations, method: str, suffix: str, body: Any
) -> None:
    before = application.head_position
    kwargs = {} if body is None else {"json": body}
    response = getattr(admin, method)(f"/v1/customers/{MISSING}{suffix}", **kwargs)
    assert MISSING in assert_problem(response, 404, "not-found")["detail"]
    assert application.head_position == before


@pytest.mark.parametrize("suffix", READS)
def test_reading_an_unknown_customer_is_a_404_problem(admin: ApiClient, suffix: str) -> None:
    assert_problem(admin.get(f"/v1/customers/{MISSING}{suffix}"), 404, "not-found")


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "0000000-0000-0000-0000-000000000000"])
def test_a_path_id_that_is_not_a_uuid_is_a_404_problem_and_records_nothing(
    admin: ApiClient, application: CustomerRelations, method: str, suffix: str, body: Any, bad_id: str
) -> None:
    before = application.head_position
    kwargs = {} if body is None else {"json": body}
    assert_problem(getattr(admin, method)(f"/v1/customers/{bad_id}{suffix}", **kwargs), 404, "not-found")
    assert_problem(admin.get(f"/v1/customers/{bad_id}"), 404, "not-found")
    assert application.head_position == before


def test_merging_with_an_unknown_duplicate_is_a_404_problem_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    survivor = register(agent)
    before = application.head_position
    response = agent.post(url(survivor, "/merge"), json={"duplicate_id": MISSING})
    assert MISSING in assert_problem(response, 404, "not-found")["detail"]
    assert application.head_position == before


# ---- PATCH, ETag and If-Match ---------------------------------------------------------------------


def test_changing_the_profile_answers_the_new_version_and_the_position_of_its_event(
    agent: ApiClient, application: CustomerRelations
) -> None:
    customer = register(agent, email="dana@fbi.gov", locale="en")
    response = agent.patch(url(customer), json={"name": "Dana K. Scully", "email": None, "locale": "en-GB"})
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == '"2"'
    assert int(response.headers["Conversa-Position"]) == application.head_position
    assert (response.json["name"], response.json["email"], response.json["locale"]) == ("Dana K. Scully", None, "en-GB")
    assert agent.get(url(customer)).json == response.json


def test_only_real_changes_of_the_profile_make_an_event(agent: ApiClient, application: CustomerRelations) -> None:
    customer = register(agent, email="dana@fbi.gov", locale="en")
    before = application.head_position
    unchanged = agent.patch(url(customer), json={"name": "Dana Scully", "email": "dana@fbi.gov", "locale": "en"})
    assert unchanged.status_code == 200
    assert unchanged.headers["ETag"] == '"1"'
    assert "Conversa-Position" not in unchanged.headers
    assert application.head_position == before

    partly = agent.patch(url(customer), json={"name": "Dana Scully", "locale": "fr"})
    assert partly.headers["ETag"] == '"2"'
    assert application.head_position == before + 1
    timeline = agent.get(url(customer, "/timeline")).json["items"]
    assert timeline[-1]["type"] == "customer.profile_updated"
    assert timeline[-1]["summary"] == "Profile updated: locale"


def test_a_change_with_the_current_etag_in_if_match_is_accepted(agent: ApiClient) -> None:
    customer = register(agent)
    etag = agent.get(url(customer)).headers["ETag"]
    response = agent.patch(url(customer), json={"name": "Fox"}, headers={"If-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    weak = agent.patch(url(customer), json={"name": "Walter"}, headers={"If-Match": 'W/"2"'})
    assert weak.status_code == 200 and weak.json["name"] == "Walter"
    anything = agent.patch(url(customer), json={"name": "Monica"}, headers={"If-Match": "*"})
    assert anything.status_code == 200 and anything.json["name"] == "Monica"


@pytest.mark.parametrize(("method", "suffix", "body"), [p for p in WRITES if p.id not in ("forget", "merge")])
def test_a_write_with_a_stale_if_match_is_a_412_problem_and_records_nothing(
    agent: ApiClient, application: CustomerRelations, method: str, suffix: str, body: Any
) -> None:
    customer = register(agent)
    agent.post(url(customer, "/tags"), json={"tag": "vip"})  # version 2, so '"1"' is stale
    before = application.head_position
    kwargs = {} if body is None else {"json": body}
    response = getattr(agent, method)(url(customer, suffix), headers={"If-Match": '"1"'}, **kwargs)
    body_ = assert_problem(response, 412, "stale-version")
    assert "1" in body_["detail"] and "2" in body_["detail"]
    assert application.head_position == before


def test_merging_and_forgetting_with_a_stale_if_match_are_refused(
    admin: ApiClient, application: CustomerRelations
) -> None:
    survivor = register(admin)
    duplicate = register(admin, name="Dana S.", handle="@dana_s")
    admin.patch(url(survivor), json={"name": "Dana Katherine Scully"})
    before = application.head_position
    stale = {"If-Match": '"1"'}
    merge = admin.post(url(survivor, "/merge"), json={"duplicate_id": duplicate["id"]}, headers=stale)
    assert_problem(merge, 412, "stale-version")
    assert_problem(admin.post(url(survivor, "/forget"), json={}, headers=stale), 412, "stale-version")
    assert application.head_position == before


@pytest.mark.parametrize("if_match", ["1", "abc", '"x"', '"1", "2"', "W/1"])
def test_a_malformed_if_match_is_a_400_problem_and_records_nothing(
    agent: ApiClient, application: CustomerRelations, if_match: str
) -> None:
    customer = register(agent)
    before = application.head_position
    response = agent.patch(url(customer), json={"name": "Fox"}, headers={"If-Match": if_match})
    assert_problem(response, 400, "bad-precondition")
    assert application.head_position == before


# ---- identities -----------------------------------------------------------------------------------


def test_linking_an_identity_answers_201_with_the_customer_and_its_new_version(
    agent: ApiClient, application: CustomerRelations
) -> None:
    customer = register(agent)
    response = agent.post(url(customer, "/identities"), json={"channel": "email", "handle": "dana@fbi.gov"})
    assert response.status_code == 201, response.json
    assert response.headers["Location"] == url(customer)
    assert response.headers["ETag"] == '"2"'
    assert int(response.headers["Conversa-Position"]) == application.head_position
    assert response.json["identities"] == [
        {"channel": "twitter", "handle": "@dana"},
        {"channel": "email", "handle": "dana@fbi.gov"},
    ]


def test_linking_an_identity_held_by_another_customer_in_another_case_is_a_409_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    holder = register(agent, handle="@Dana")
    other = register(agent, name="Fox Mulder", handle="@fox")
    before = application.head_position
    response = agent.post(url(other, "/identities"), json={"channel": "twitter", "handle": "@DANA"})
    body = assert_problem(response, 409, "duplicate-identity")
    assert holder["id"] in body["detail"]
    assert application.head_position == before
    assert agent.get(url(other)).json["identities"] == [{"channel": "twitter", "handle": "@fox"}]


def test_the_same_handle_on_another_channel_is_another_identity(agent: ApiClient) -> None:
    register(agent, handle="dana")
    other = register(agent, name="Fox Mulder", handle="@fox")
    assert agent.post(url(other, "/identities"), json={"channel": "instagram", "handle": "dana"}).status_code == 201


def test_unlinking_an_identity_frees_it_for_another_customer(agent: ApiClient, application: CustomerRelations) -> None:
    first = register(agent, handle="@dana")
    second = register(agent, name="Fox Mulder", handle="@fox")
    response = agent.delete(url(first, "/identities/twitter/@DANA"))
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == '"2"'
    assert int(response.headers["Conversa-Position"]) == application.head_position
    assert response.json["identities"] == []
    linked = agent.post(url(second, "/identities"), json={"channel": "twitter", "handle": "@dana"})
    assert linked.status_code == 201
    assert {"channel": "twitter", "handle": "@dana"} in linked.json["identities"]


def test_an_unlinked_identity_can_be_registered_by_a_new_customer(agent: ApiClient) -> None:
    first = register(agent, handle="@dana")
    assert agent.delete(url(first, "/identities/twitter/@dana")).status_code == 200
    assert register(agent, name="New Dana", handle="@Dana")["identities"] == [{"channel": "twitter", "handle": "@Dana"}]


def test_a_handle_with_slashes_is_unlinked_by_its_path(agent: ApiClient) -> None:
    customer = register(agent, handle=None)
    handle = "https://mastodon.social/@dana"
    assert agent.post(url(customer, "/identities"), json={"channel": "mastodon", "handle": handle}).status_code == 201
    response = agent.delete(url(customer, f"/identities/mastodon/{handle}"))
    assert response.status_code == 200, response.json
    assert response.json["identities"] == []


def test_unlinking_an_identity_the_customer_lacks_is_a_409_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    register(agent, name="Fox Mulder", handle="@fox")
    customer = register(agent)
    before = application.head_position
    assert_problem(agent.delete(url(customer, "/identities/twitter/@fox")), 409, "conflict")
    assert application.head_position == before
    taken = agent.post("/v1/customers", json={"name": "X", "identities": [{"channel": "twitter", "handle": "@fox"}]})
    assert_problem(taken, 409, "duplicate-identity")  # @fox still belongs to Fox


# ---- consent, NPS, tags ---------------------------------------------------------------------------


def test_consent_given_and_withdrawn_is_recorded_with_source_time_and_the_agent(
    agent: ApiClient, application: CustomerRelations
) -> None:
    customer = register(agent)
    given = agent.put(url(customer, "/consent"), json={"given": True, "source": "web form"})
    assert given.status_code == 200, given.json
    assert given.headers["ETag"] == '"2"'
    assert int(given.headers["Conversa-Position"]) == application.head_position
    assert given.json["marketing_consent"] is True
    withdrawn = agent.put(url(customer, "/consent"), json={"given": False})
    assert withdrawn.json["marketing_consent"] is False
    history = withdrawn.json["consent_history"]
    actor = {"kind": "agent", "id": agent_id(application, agent), "name": "Ann Agent"}
    assert [(h["given"], h["source"], h["actor"]) for h in history] == [(True, "web form", actor), (False, None, actor)]
    assert all(h["occurred_at"].endswith("+00:00") for h in history)
    assert history[0]["occurred_at"] <= history[1]["occurred_at"]


def test_setting_consent_to_what_it_is_records_nothing(agent: ApiClient, application: CustomerRelations) -> None:
    customer = register(agent)
    before = application.head_position
    response = agent.put(url(customer, "/consent"), json={"given": False})
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert "Conversa-Position" not in response.headers
    assert response.json["consent_history"] == []
    assert application.head_position == before


@pytest.mark.parametrize("score", [0, 7, 10])
def test_an_nps_answer_from_0_to_10_is_recorded_as_said_by_the_customer(
    agent: ApiClient, application: CustomerRelations, score: int
) -> None:
    customer = register(agent)
    response = agent.post(url(customer, "/nps"), json={"score": score, "comment": "Quick answers"})
    assert response.status_code == 201, response.json
    assert response.headers["Location"] == url(customer)
    assert response.headers["ETag"] == '"2"'
    assert int(response.headers["Conversa-Position"]) == application.head_position
    assert response.json["latest_nps"] == score
    assert [(n["score"], n["comment"]) for n in response.json["nps_history"]] == [(score, "Quick answers")]
    entry = agent.get(url(customer, "/timeline")).json["items"][-1]
    assert entry["actor"] == {"kind": "customer", "id": customer["id"], "name": None}
    assert entry["summary"] == f"NPS {score}: “Quick answers”"


def test_the_latest_nps_answer_wins_and_keeps_its_channel_time(agent: ApiClient) -> None:
    customer = register(agent)
    agent.post(url(customer, "/nps"), json={"score": 3})
    response = agent.post(url(customer, "/nps"), json={"score": 9, "occurred_at": "2024-05-01T12:00:00+02:00"})
    assert response.json["latest_nps"] == 9
    assert [n["score"] for n in response.json["nps_history"]] == [3, 9]
    assert response.json["nps_history"][1]["occurred_at"] == "2024-05-01T10:00:00+00:00"


def test_tagging_adds_a_tag_once_and_untagging_removes_it(agent: ApiClient, application: CustomerRelations) -> None:
    customer = register(agent)
    tagged = agent.post(url(customer, "/tags"), json={"tag": "vip"})
    assert tagged.status_code == 200, tagged.json
    assert tagged.json["tags"] == ["vip"]
    assert tagged.headers["ETag"] == '"2"'
    assert int(tagged.headers["Conversa-Position"]) == application.head_position

    before = application.head_position
    again = agent.post(url(customer, "/tags"), json={"tag": "vip"})
    assert again.status_code == 200 and again.json["tags"] == ["vip"]
    assert "Conversa-Position" not in again.headers
    assert application.head_position == before

    untagged = agent.delete(url(customer, "/tags/vip"))
    assert untagged.status_code == 200
    assert untagged.json["tags"] == []
    assert untagged.headers["ETag"] == '"3"'
    assert int(untagged.headers["Conversa-Position"]) == application.head_position


def test_removing_a_tag_the_customer_lacks_records_nothing(agent: ApiClient, application: CustomerRelations) -> None:
    customer = register(agent)
    before = application.head_position
    response = agent.delete(url(customer, "/tags/vip"))
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert application.head_position == before


def test_a_tag_of_exactly_fifty_characters_with_inner_spaces_is_accepted(agent: ApiClient) -> None:
    customer = register(agent)
    tag = "big spender " + "x" * 38
    assert len(tag) == 50
    assert agent.post(url(customer, "/tags"), json={"tag": tag}).json["tags"] == [tag]


@pytest.mark.parametrize("tag", ["partner/acme", "a/b/c", "ünïcödé ✓", "50%"])
def test_any_tag_that_can_be_added_can_be_removed_by_its_url(agent: ApiClient, tag: str) -> None:
    customer = register(agent)
    assert agent.post(url(customer, "/tags"), json={"tag": tag}).json["tags"] == [tag]
    quoted = tag.replace("%", "%25")
    response = agent.delete(url(customer, f"/tags/{quoted}"))
    assert response.status_code == 200, response.json
    assert response.json["tags"] == []


# ---- merge ----------------------------------------------------------------------------------------


def test_merging_points_the_duplicate_at_the_survivor_and_the_survivor_at_the_duplicate(
    agent: ApiClient, application: CustomerRelations
) -> None:
    survivor = register(agent)
    duplicate = register(agent, name="D. Scully", handle="@dscully")
    response = agent.post(url(survivor, "/merge"), json={"duplicate_id": duplicate["id"]})
    assert response.status_code == 200, response.json
    assert response.json["id"] == survivor["id"]
    assert response.json["merged_duplicates"] == [duplicate["id"]]
    assert response.headers["ETag"] == '"2"'
    assert int(response.headers["Conversa-Position"]) == application.head_position
    merged = agent.get(url(duplicate))
    assert merged.json["merged_into"] == survivor["id"]
    assert merged.headers["ETag"] == '"2"'
    assert merged.json["name"] == "D. Scully"  # non-destructive: the duplicate keeps what it had
    assert merged.json["identities"] == [{"channel": "twitter", "handle": "@dscully"}]


def test_merging_a_customer_into_itself_is_a_422_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    customer = register(agent)
    before = application.head_position
    response = agent.post(url(customer, "/merge"), json={"duplicate_id": customer["id"]})
    assert_problem(response, 422, "rule-violation")
    assert application.head_position == before
    assert agent.get(url(customer)).json["merged_into"] is None


@pytest.mark.parametrize(("method", "suffix", "body"), [p for p in WRITES if p.id not in ("merge", "forget")])
def test_writes_to_a_merged_customer_are_409_customer_inactive_and_record_nothing(
    agent: ApiClient, application: CustomerRelations, method: str, suffix: str, body: Any
) -> None:
    survivor = register(agent, name="Dana Scully", handle="@scully")
    duplicate = register(agent)
    agent.post(url(duplicate, "/tags"), json={"tag": "vip"})
    agent.post(url(survivor, "/merge"), json={"duplicate_id": duplicate["id"]})
    before = application.head_position
    kwargs = {} if body is None else {"json": body}
    response = getattr(agent, method)(url(duplicate, suffix), **kwargs)
    assert survivor["id"] in assert_problem(response, 409, "customer-inactive")["detail"]
    assert application.head_position == before


def test_a_merged_customer_can_be_neither_survivor_nor_duplicate_again(
    agent: ApiClient, application: CustomerRelations
) -> None:
    survivor = register(agent, handle="@a")
    duplicate = register(agent, handle="@b")
    third = register(agent, handle="@c")
    agent.post(url(survivor, "/merge"), json={"duplicate_id": duplicate["id"]})
    before = application.head_position
    assert_problem(agent.post(url(duplicate, "/merge"), json={"duplicate_id": third["id"]}), 409, "customer-inactive")
    assert_problem(agent.post(url(third, "/merge"), json={"duplicate_id": duplicate["id"]}), 409, "customer-inactive")
    assert_problem(
        agent.post(url(survivor, "/merge"), json={"duplicate_id": duplicate["id"]}), 409, "customer-inactive"
    )
    assert application.head_position == before
    assert agent.get(url(survivor)).json["merged_duplicates"] == [duplicate["id"]]


def test_a_survivor_keeps_taking_changes_after_a_merge(agent: ApiClient) -> None:
    survivor = register(agent, handle="@a")
    duplicate = register(agent, handle="@b")
    agent.post(url(survivor, "/merge"), json={"duplicate_id": duplicate["id"]})
    response = agent.post(url(survivor, "/tags"), json={"tag": "merged"})
    assert response.status_code == 200 and response.json["tags"] == ["merged"]


# ---- forget ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "marketing", "integration"])
def test_only_an_admin_may_forget_a_customer(
    admin: ApiClient, as_role: Any, application: CustomerRelations, role: str
) -> None:
    customer = register(admin)
    other = as_role(role)
    before = application.head_position
    assert_problem(other.post(url(customer, "/forget"), json={"reason": "asked"}), 403, "forbidden")
    assert application.head_position == before
    assert admin.get(url(customer)).json["forgotten"] is False


def test_forgetting_erases_personal_data_and_keeps_statistics(
    admin: ApiClient, agent: ApiClient, application: CustomerRelations
) -> None:
    customer = register(agent, email="dana@fbi.gov", locale="en")
    agent.put(url(customer, "/consent"), json={"given": True, "source": "web form"})
    agent.post(url(customer, "/nps"), json={"score": 9, "comment": "Agent Mulder was great"})
    response = admin.post(url(customer, "/forget"), json={"reason": "GDPR art. 17 request"})
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == '"4"'
    assert int(response.headers["Conversa-Position"]) == application.head_position
    body = admin.get(url(customer)).json
    assert body["name"] == "[forgotten]"
    assert body["identities"] == []
    assert body["email"] is None
    assert body["forgotten"] is True
    assert body["forgotten_at"].endswith("+00:00")
    assert body["marketing_consent"] is False
    assert body["latest_nps"] == 9
    assert body["nps_history"][0]["comment"] is None


def test_a_customer_can_be_forgotten_without_a_reason_or_a_body(admin: ApiClient) -> None:
    customer = register(admin)
    response = admin.post(url(customer, "/forget"))
    assert response.status_code == 200, response.json
    assert response.json["forgotten"] is True


@pytest.mark.parametrize(("method", "suffix", "body"), [p for p in WRITES if p.id != "merge"])
def test_writes_to_a_forgotten_customer_are_409_customer_inactive_and_record_nothing(
    admin: ApiClient, application: CustomerRelations, method: str, suffix: str, body: Any
) -> None:
    customer = register(admin)
    admin.post(url(customer, "/forget"), json={})
    before = application.head_position
    kwargs = {} if body is None else {"json": body}
    response = getattr(admin, method)(url(customer, suffix), **kwargs)
    assert "forgotten" in assert_problem(response, 409, "customer-inactive")["detail"]
    assert application.head_position == before


def test_a_forgotten_customer_cannot_be_merged_either_way(admin: ApiClient, application: CustomerRelations) -> None:
    forgotten = register(admin, handle="@a")
    other = register(admin, handle="@b")
    admin.post(url(forgotten, "/forget"), json={})
    before = application.head_position
    assert_problem(admin.post(url(other, "/merge"), json={"duplicate_id": forgotten["id"]}), 409, "customer-inactive")
    assert_problem(admin.post(url(forgotten, "/merge"), json={"duplicate_id": other["id"]}), 409, "customer-inactive")
    assert application.head_position == before


def test_the_identities_of_a_forgotten_customer_can_be_registered_by_a_new_customer(admin: ApiClient) -> None:
    customer = register(admin, handle="@Dana")
    admin.post(url(customer, "/identities"), json={"channel": "email", "handle": "dana@fbi.gov"})
    admin.post(url(customer, "/forget"), json={})
    newcomer = admin.post(
        "/v1/customers",
        json={
            "name": "Dana Again",
            "identities": [{"channel": "twitter", "handle": "@dana"}, {"channel": "email", "handle": "DANA@fbi.gov"}],
        },
    )
    assert newcomer.status_code == 201, newcomer.json
    assert len(newcomer.json["identities"]) == 2


def test_forgetting_a_survivor_forgets_its_merged_duplicates_and_frees_their_identities(
    admin: ApiClient,
) -> None:
    survivor = register(admin, handle="@scully")
    duplicate = register(admin, name="D. Scully", handle="@dscully")
    admin.post(url(survivor, "/merge"), json={"duplicate_id": duplicate["id"]})
    assert admin.post(url(survivor, "/forget"), json={}).status_code == 200
    merged = admin.get(url(duplicate)).json
    assert (merged["name"], merged["identities"], merged["forgotten"]) == ("[forgotten]", [], True)
    assert register(admin, name="Someone", handle="@dscully")["identities"][0]["handle"] == "@dscully"


def test_forgetting_a_survivor_forgets_customers_merged_into_it_through_another(admin: ApiClient) -> None:
    first = register(admin, name="Dana First", handle="@first")
    middle = register(admin, name="Dana Middle", handle="@middle")
    last = register(admin, name="Dana Last", handle="@last")
    assert admin.post(url(middle, "/merge"), json={"duplicate_id": first["id"]}).status_code == 200
    assert admin.post(url(last, "/merge"), json={"duplicate_id": middle["id"]}).status_code == 200
    assert admin.post(url(last, "/forget"), json={}).status_code == 200
    oldest = admin.get(url(first)).json
    assert (oldest["name"], oldest["identities"], oldest["forgotten"]) == ("[forgotten]", [], True)


def test_forgetting_twice_is_a_409_and_records_nothing(admin: ApiClient, application: CustomerRelations) -> None:
    customer = register(admin)
    admin.post(url(customer, "/forget"), json={})
    before = application.head_position
    assert_problem(admin.post(url(customer, "/forget"), json={}), 409, "customer-inactive")
    assert application.head_position == before


# ---- roles and credentials ------------------------------------------------------------------------


def test_marketing_can_read_a_customer_and_its_timeline(agent: ApiClient, as_role: Any) -> None:
    customer = register(agent)
    marketing = as_role("marketing")
    response = marketing.get(url(customer))
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert response.json["name"] == "Dana Scully"
    assert marketing.get(url(customer, "/timeline")).status_code == 200


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_marketing_gets_403_on_every_customer_write_and_it_records_nothing(
    agent: ApiClient, as_role: Any, application: CustomerRelations, method: str, suffix: str, body: Any
) -> None:
    customer = register(agent)
    agent.post(url(customer, "/tags"), json={"tag": "vip"})
    marketing = as_role("marketing")
    before = application.head_position
    kwargs = {} if body is None else {"json": body}
    assert_problem(getattr(marketing, method)(url(customer, suffix), **kwargs), 403, "forbidden")
    assert application.head_position == before


def test_registering_is_forbidden_to_marketing_and_integration(as_role: Any, application: CustomerRelations) -> None:
    for role in ("marketing", "integration"):
        client = as_role(role)
        before = application.head_position
        assert_problem(client.post("/v1/customers", json={"name": "Dana"}), 403, "forbidden")
        assert application.head_position == before


def test_rights_are_checked_before_the_body(as_role: Any, agent: ApiClient, application: CustomerRelations) -> None:
    customer = register(agent)
    marketing = as_role("marketing")
    before = application.head_position
    assert_problem(marketing.post("/v1/customers", json={"name": ""}), 403, "forbidden")
    assert_problem(marketing.post(url(customer, "/nps"), json={"score": 99}), 403, "forbidden")
    assert application.head_position == before


@pytest.mark.parametrize(("method", "suffix", "body"), [("get", "", None), ("get", "/timeline", None), *WRITES])
def test_integration_gets_403_on_customers(
    agent: ApiClient, as_role: Any, application: CustomerRelations, method: str, suffix: str, body: Any
) -> None:
    customer = register(agent)
    integration = as_role("integration")
    before = application.head_position
    kwargs = {} if body is None else {"json": body}
    assert_problem(getattr(integration, method)(url(customer, suffix), **kwargs), 403, "forbidden")
    assert application.head_position == before


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no header"),
        pytest.param("Bearer not-a-token", id="unknown token"),
        pytest.param("Bearer ", id="empty token"),
        pytest.param("Basic YWRtaW46YWRtaW4=", id="basic scheme"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/v1/customers/{id}", None),
        ("post", "/v1/customers", {"name": "Dana"}),
        ("patch", "/v1/customers/{id}", {"name": "Fox"}),
        ("post", "/v1/customers/{id}/forget", {}),
        ("get", "/v1/customers/{id}/timeline", None),
    ],
)
def test_a_call_without_valid_credentials_is_a_401_with_www_authenticate_and_records_nothing(
    client: FlaskClient,
    agent: ApiClient,
    application: CustomerRelations,
    authorization: str | None,
    method: str,
    path: str,
    body: Any,
) -> None:
    customer = register(agent)
    before = application.head_position
    headers = {} if authorization is None else {"Authorization": authorization}
    kwargs = {} if body is None else {"json": body}
    response = getattr(client, method)(path.format(id=customer["id"]), headers=headers, **kwargs)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert application.head_position == before


def test_a_revoked_token_is_refused(admin: ApiClient, as_role: Any, application: CustomerRelations) -> None:
    leaver = as_role("agent", "Lee Leaver")
    customer = register(leaver)
    admin.delete(f"/v1/agents/{agent_id(application, leaver)}")
    response = leaver.get(url(customer))
    assert_problem(response, 401, "unauthenticated")
    assert "WWW-Authenticate" in response.headers
