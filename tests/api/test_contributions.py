"""Contributions over HTTP: submit, read, endorse, curate, reward and convert, with their rules and roles.

Every refusal is an RFC 9457 problem document and leaves the event log exactly as it was.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any
from uuid import uuid4

import pytest

from domain.application import CustomerRelations
from tests.api.test_conversations import (
    MISSING,
    NAIVE_TIME,
    assert_problem,
    records_no_event,
    register_customer,
    start,
)
from tests.conftest import ApiClient

# The fields each kind needs besides customer, kind, title and body.
KIND_FIELDS: dict[str, dict[str, Any]] = {
    "idea": {},
    "review": {"rating": 4},
    "answer": {},
    "referral": {"referred_handle": "@friend"},
    "content": {},
    "beta_feedback": {},
}


def submit(client: ApiClient, customer_id: str, kind: str = "idea", **extra: Any) -> dict[str, Any]:
    body = {"customer_id": customer_id, "kind": kind, "title": f"A {kind}", "body": "Details", **KIND_FIELDS[kind]}
    response = client.post("/v1/contributions", json={**body, **extra})
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def url(contribution: dict[str, Any], tail: str = "") -> str:
    return f"/v1/contributions/{contribution['id']}{tail}"


@pytest.fixture
def author(agent: ApiClient) -> dict[str, Any]:
    return register_customer(agent, "Paula Prosumer")


@pytest.fixture
def fan(agent: ApiClient) -> dict[str, Any]:
    return register_customer(agent, "Fred Fan")


@pytest.fixture
def idea(agent: ApiClient, author: dict[str, Any]) -> dict[str, Any]:
    return submit(agent, author["id"], "idea", title="Dark mode", body="Please add a dark mode")


@pytest.fixture
def referral(agent: ApiClient, author: dict[str, Any]) -> dict[str, Any]:
    return submit(agent, author["id"], "referral")


def move(client: ApiClient, contribution: dict[str, Any], *statuses: str) -> Any:
    response = None
    for status in statuses:
        response = client.put(url(contribution, "/status"), json={"status": status})
        assert response.status_code == 200, response.json
    return response


# ---- submit and read ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KIND_FIELDS))
def test_each_kind_of_contribution_is_submitted_with_201_location_etag_and_position(
    agent: ApiClient, author: dict[str, Any], application: CustomerRelations, kind: str
) -> None:
    body = {"customer_id": author["id"], "kind": kind, "title": "Title", "body": "Body", **KIND_FIELDS[kind]}
    response = agent.post("/v1/contributions", json=body)
    assert response.status_code == 201, response.json
    created = response.json
    assert response.headers["Location"].endswith(f"/v1/contributions/{created['id']}")
    assert response.headers["ETag"] == f'"{created["version"]}"'
    assert response.headers["Conversa-Position"] == str(application.head_position)
    assert (created["customer_id"], created["kind"], created["title"], created["body"]) == (
        author["id"],
        kind,
        "Title",
        "Body",
    )
    assert created["rating"] == KIND_FIELDS[kind].get("rating")
    assert created["referred_handle"] == KIND_FIELDS[kind].get("referred_handle")
    assert (created["status"], created["endorsement_count"], created["converted_customer_id"]) == (
        "submitted",
        0,
        None,
    )
    assert created["status_history"] == [] and created["endorsements"] == [] and created["rewards"] == []


def test_a_contribution_keeps_the_time_it_was_made_on_the_channel(agent: ApiClient, author: dict[str, Any]) -> None:
    created = submit(agent, author["id"], occurred_at="2024-05-01T12:00:00+02:00")
    assert created["submitted_at"].startswith("2024-05-01T10:00:00")


def test_reading_a_contribution_returns_it_with_its_etag(agent: ApiClient, idea: dict[str, Any]) -> None:
    response = agent.get(url(idea))
    assert response.status_code == 200
    assert response.json == idea
    assert response.headers["ETag"] == f'"{idea["version"]}"'


def test_reading_an_unknown_contribution_is_a_404_problem(agent: ApiClient) -> None:
    assert_problem(agent.get(f"/v1/contributions/{uuid4()}"), 404, "not-found")


def test_reading_a_conversation_id_as_a_contribution_is_a_404_problem(agent: ApiClient, author: dict[str, Any]) -> None:
    conversation = start(agent, author["id"])
    assert_problem(agent.get(f"/v1/contributions/{conversation['id']}"), 404, "not-found")


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        pytest.param("review", {}, id="review-without-rating"),
        pytest.param("review", {"rating": None}, id="review-with-null-rating"),
        pytest.param("idea", {"rating": 5}, id="idea-with-rating"),
        pytest.param("answer", {"rating": 3}, id="answer-with-rating"),
        pytest.param("referral", {"rating": 3, "referred_handle": "@x"}, id="referral-with-rating"),
        pytest.param("referral", {}, id="referral-without-handle"),
        pytest.param("idea", {"referred_handle": "@x"}, id="idea-with-handle"),
        pytest.param("review", {"rating": 5, "referred_handle": "@x"}, id="review-with-handle"),
    ],
)
def test_a_submission_that_breaks_the_rules_of_its_kind_is_422_rule_violation_and_records_nothing(
    agent: ApiClient, author: dict[str, Any], application: CustomerRelations, kind: str, fields: dict[str, Any]
) -> None:
    body = {"customer_id": author["id"], "kind": kind, "title": "T", "body": "B", **fields}
    with records_no_event(application):
        assert_problem(agent.post("/v1/contributions", json=body), 422, "rule-violation")


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"kind": "review", "rating": 0}, id="rating-zero"),
        pytest.param({"kind": "review", "rating": 6}, id="rating-six"),
        pytest.param({"kind": "review", "rating": "4"}, id="rating-string"),
        pytest.param({"kind": "review", "rating": 4.5}, id="rating-fraction"),
        pytest.param({"kind": "review", "rating": True}, id="rating-boolean"),
        pytest.param({"kind": "complaint"}, id="unknown-kind"),
        pytest.param({"kind": MISSING}, id="no-kind"),
        pytest.param({"title": MISSING}, id="no-title"),
        pytest.param({"title": ""}, id="empty-title"),
        pytest.param({"title": "x" * 201}, id="title-over-200"),
        pytest.param({"body": MISSING}, id="no-body"),
        pytest.param({"body": "  "}, id="blank-body"),
        pytest.param({"body": "x" * 10_001}, id="body-over-10000"),
        pytest.param({"customer_id": MISSING}, id="no-customer"),
        pytest.param({"customer_id": "paula"}, id="customer-not-a-uuid"),
        pytest.param({"occurred_at": NAIVE_TIME}, id="naive-occurred-at"),
        pytest.param({"kind": "referral", "referred_handle": "x" * 201}, id="handle-over-200"),
    ],
)
def test_a_submission_with_bad_fields_is_422_and_records_nothing(
    agent: ApiClient, author: dict[str, Any], application: CustomerRelations, fields: dict[str, Any]
) -> None:
    body = {"customer_id": author["id"], "kind": "idea", "title": "T", "body": "B", **fields}
    body = {k: v for k, v in body.items() if v is not MISSING}
    with records_no_event(application):
        problem = assert_problem(agent.post("/v1/contributions", json=body), 422, "validation")
    assert problem["errors"], problem


def test_a_review_of_exactly_ten_thousand_characters_rated_five_is_accepted(
    agent: ApiClient, author: dict[str, Any]
) -> None:
    created = submit(agent, author["id"], "review", rating=5, body="x" * 10_000, title="x" * 200)
    assert created["rating"] == 5


def test_a_contribution_of_an_unknown_customer_is_404_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    body = {"customer_id": str(uuid4()), "kind": "idea", "title": "T", "body": "B"}
    with records_no_event(application):
        assert_problem(agent.post("/v1/contributions", json=body), 404, "not-found")


# ---- endorsements -------------------------------------------------------------------------------


def test_another_customer_endorses_a_contribution(
    agent: ApiClient, idea: dict[str, Any], fan: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(url(idea, "/endorsements"), json={"customer_id": fan["id"]})
    assert response.status_code == 201
    assert response.headers["Location"].endswith(url(idea))
    assert response.headers["ETag"] == f'"{idea["version"] + 1}"'
    assert response.headers["Conversa-Position"] == str(application.head_position)
    assert response.json["endorsement_count"] == 1
    assert [e["customer_id"] for e in response.json["endorsements"]] == [fan["id"]]


def test_each_other_customer_adds_one_endorsement(agent: ApiClient, idea: dict[str, Any], fan: dict[str, Any]) -> None:
    other = register_customer(agent, "Olga Other")
    agent.post(url(idea, "/endorsements"), json={"customer_id": fan["id"]})
    response = agent.post(url(idea, "/endorsements"), json={"customer_id": other["id"]})
    assert response.json["endorsement_count"] == 2
    assert agent.get(url(idea)).json["endorsement_count"] == 2


def test_the_author_endorsing_their_own_contribution_is_422_rule_violation_and_records_nothing(
    agent: ApiClient, idea: dict[str, Any], author: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        response = agent.post(url(idea, "/endorsements"), json={"customer_id": author["id"]})
        assert_problem(response, 422, "rule-violation")


def test_a_second_endorsement_by_the_same_customer_is_409_duplicate_endorsement_and_records_nothing(
    agent: ApiClient, idea: dict[str, Any], fan: dict[str, Any], application: CustomerRelations
) -> None:
    assert agent.post(url(idea, "/endorsements"), json={"customer_id": fan["id"]}).status_code == 201
    with records_no_event(application):
        response = agent.post(url(idea, "/endorsements"), json={"customer_id": fan["id"]})
        assert_problem(response, 409, "duplicate-endorsement")
    assert agent.get(url(idea)).json["endorsement_count"] == 1


def test_an_endorsement_by_an_unknown_customer_is_404_and_records_nothing(
    agent: ApiClient, idea: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(idea, "/endorsements"), json={"customer_id": str(uuid4())}), 404, "not-found")


def test_endorsing_an_unknown_contribution_is_404_and_records_nothing(
    agent: ApiClient, fan: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        response = agent.post(f"/v1/contributions/{uuid4()}/endorsements", json={"customer_id": fan["id"]})
        assert_problem(response, 404, "not-found")


@pytest.mark.parametrize("body", [{}, {"customer_id": None}, {"customer_id": "fred"}], ids=["none", "null", "name"])
def test_an_endorsement_without_a_customer_id_is_422_and_records_nothing(
    agent: ApiClient, idea: dict[str, Any], application: CustomerRelations, body: dict[str, Any]
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(idea, "/endorsements"), json=body), 422, "validation")


# ---- status -------------------------------------------------------------------------------------


def test_a_contribution_goes_from_submitted_through_review_and_acceptance_to_implemented(
    agent: ApiClient, idea: dict[str, Any], application: CustomerRelations
) -> None:
    seen = ["submitted"]
    for status in ["under_review", "accepted", "implemented"]:
        response = agent.put(url(idea, "/status"), json={"status": status, "note": f"now {status}"})
        assert response.status_code == 200, response.json
        assert response.json["status"] == status
        assert response.headers["Conversa-Position"] == str(application.head_position)
        seen.append(status)
    history = response.json["status_history"]
    assert [(h["previous"], h["status"]) for h in history] == list(pairwise(seen))
    assert [h["note"] for h in history] == ["now under_review", "now accepted", "now implemented"]
    assert {h["actor"]["name"] for h in history} == {"Ann Agent"}


@pytest.mark.parametrize("path", [["declined"], ["under_review", "declined"]], ids=["submitted", "under-review"])
def test_a_contribution_may_be_declined_until_it_is_accepted(
    agent: ApiClient, idea: dict[str, Any], path: list[str]
) -> None:
    assert move(agent, idea, *path).json["status"] == "declined"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        pytest.param([], "implemented", id="submitted-to-implemented"),
        pytest.param([], "accepted", id="submitted-to-accepted"),
        pytest.param([], "submitted", id="submitted-to-submitted"),
        pytest.param(["under_review"], "implemented", id="under-review-to-implemented"),
        pytest.param(["under_review", "accepted"], "declined", id="accepted-to-declined"),
        pytest.param(["under_review", "accepted", "implemented"], "accepted", id="implemented-to-accepted"),
        pytest.param(["declined"], "under_review", id="declined-to-under-review"),
    ],
)
def test_an_illegal_status_transition_is_409_and_records_nothing(
    agent: ApiClient, idea: dict[str, Any], application: CustomerRelations, path: list[str], target: str
) -> None:
    move(agent, idea, *path)
    with records_no_event(application):
        response = agent.put(url(idea, "/status"), json={"status": target})
        problem = assert_problem(response, 409, "illegal-transition")
    assert target in problem["detail"]


@pytest.mark.parametrize(
    "body",
    [{"status": "done"}, {}, {"status": "under_review", "note": "x" * 10_001}],
    ids=["unknown", "missing", "note-too-long"],
)
def test_an_unknown_status_is_422_and_records_nothing(
    agent: ApiClient, idea: dict[str, Any], application: CustomerRelations, body: dict[str, Any]
) -> None:
    with records_no_event(application):
        assert_problem(agent.put(url(idea, "/status"), json=body), 422, "validation")


def test_a_status_change_with_a_stale_if_match_is_412_and_records_nothing(
    agent: ApiClient, idea: dict[str, Any], fan: dict[str, Any], application: CustomerRelations
) -> None:
    stale = f'"{idea["version"]}"'
    agent.post(url(idea, "/endorsements"), json={"customer_id": fan["id"]})
    with records_no_event(application):
        response = agent.put(url(idea, "/status"), json={"status": "under_review"}, headers={"If-Match": stale})
        assert_problem(response, 412, "stale-version")


def test_a_status_change_with_the_current_etag_succeeds(agent: ApiClient, idea: dict[str, Any]) -> None:
    etag = agent.get(url(idea)).headers["ETag"]
    response = agent.put(url(idea, "/status"), json={"status": "under_review"}, headers={"If-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{idea["version"] + 1}"'


def test_an_endorsement_with_a_stale_if_match_is_412_and_records_nothing(
    agent: ApiClient, idea: dict[str, Any], fan: dict[str, Any], application: CustomerRelations
) -> None:
    move(agent, idea, "under_review")
    with records_no_event(application):
        response = agent.post(
            url(idea, "/endorsements"), json={"customer_id": fan["id"]}, headers={"If-Match": f'"{idea["version"]}"'}
        )
        assert_problem(response, 412, "stale-version")


# ---- rewards ------------------------------------------------------------------------------------


def test_a_reward_recognises_the_contribution_and_names_who_gave_it(
    agent: ApiClient, idea: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(url(idea, "/rewards"), json={"description": "Thank-you mug"})
    assert response.status_code == 201
    assert response.headers["Location"].endswith(url(idea))
    assert response.headers["Conversa-Position"] == str(application.head_position)
    [reward] = response.json["rewards"]
    assert reward["description"] == "Thank-you mug"
    assert reward["actor"]["name"] == "Ann Agent"
    assert reward["occurred_at"] is not None


@pytest.mark.parametrize(
    "body", [{}, {"description": ""}, {"description": "x" * 1_001}], ids=["missing", "empty", "over-a-thousand"]
)
def test_a_reward_without_a_description_is_422_and_records_nothing(
    agent: ApiClient, idea: dict[str, Any], application: CustomerRelations, body: dict[str, Any]
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(idea, "/rewards"), json=body), 422, "validation")


def test_rewarding_an_unknown_contribution_is_404_and_records_nothing(
    agent: ApiClient, application: CustomerRelations
) -> None:
    with records_no_event(application):
        response = agent.post(f"/v1/contributions/{uuid4()}/rewards", json={"description": "Mug"})
        assert_problem(response, 404, "not-found")


# ---- referral conversion ------------------------------------------------------------------------


def test_a_converted_referral_points_at_the_new_customer(
    agent: ApiClient, referral: dict[str, Any], fan: dict[str, Any], application: CustomerRelations
) -> None:
    response = agent.post(url(referral, "/conversion"), json={"customer_id": fan["id"]})
    assert response.status_code == 201
    assert response.headers["Location"].endswith(url(referral))
    assert response.headers["Conversa-Position"] == str(application.head_position)
    assert response.json["converted_customer_id"] == fan["id"]
    assert agent.get(url(referral)).json["converted_customer_id"] == fan["id"]


@pytest.mark.parametrize("kind", [k for k in KIND_FIELDS if k != "referral"])
def test_only_a_referral_can_be_converted_and_other_kinds_are_422(
    agent: ApiClient, author: dict[str, Any], fan: dict[str, Any], application: CustomerRelations, kind: str
) -> None:
    contribution = submit(agent, author["id"], kind)
    with records_no_event(application):
        response = agent.post(url(contribution, "/conversion"), json={"customer_id": fan["id"]})
        assert_problem(response, 422, "rule-violation")


def test_converting_to_an_unknown_customer_is_404_and_records_nothing(
    agent: ApiClient, referral: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        response = agent.post(url(referral, "/conversion"), json={"customer_id": str(uuid4())})
        assert_problem(response, 404, "not-found")


def test_converting_a_referral_twice_is_409_and_records_nothing(
    agent: ApiClient, referral: dict[str, Any], fan: dict[str, Any], application: CustomerRelations
) -> None:
    assert agent.post(url(referral, "/conversion"), json={"customer_id": fan["id"]}).status_code == 201
    other = register_customer(agent, "Olga Other")
    with records_no_event(application):
        response = agent.post(url(referral, "/conversion"), json={"customer_id": other["id"]})
        assert_problem(response, 409, "conflict")
    assert agent.get(url(referral)).json["converted_customer_id"] == fan["id"]


def test_a_referral_converted_to_its_own_author_is_422_and_records_nothing(
    agent: ApiClient, referral: dict[str, Any], author: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        response = agent.post(url(referral, "/conversion"), json={"customer_id": author["id"]})
        assert_problem(response, 422, "rule-violation")


def test_a_conversion_without_a_customer_id_is_422_and_records_nothing(
    agent: ApiClient, referral: dict[str, Any], application: CustomerRelations
) -> None:
    with records_no_event(application):
        assert_problem(agent.post(url(referral, "/conversion"), json={}), 422, "validation")


# ---- roles --------------------------------------------------------------------------------------


def test_marketing_may_read_a_contribution(as_role: Any, idea: dict[str, Any]) -> None:
    response = as_role("marketing").get(url(idea))
    assert response.status_code == 200
    assert response.json["id"] == idea["id"]


def test_marketing_may_change_the_status_and_reward_and_is_named_for_it(
    as_role: Any, idea: dict[str, Any], application: CustomerRelations
) -> None:
    marketing = as_role("marketing", "Mo Marketing")
    changed = marketing.put(url(idea, "/status"), json={"status": "under_review"})
    assert changed.status_code == 200
    assert changed.json["status_history"][-1]["actor"]["name"] == "Mo Marketing"
    rewarded = marketing.post(url(idea, "/rewards"), json={"description": "Featured on the blog"})
    assert rewarded.status_code == 201
    assert rewarded.json["rewards"][-1]["actor"]["name"] == "Mo Marketing"
    assert rewarded.headers["Conversa-Position"] == str(application.head_position)


def write_calls(author: dict[str, Any], fan: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("post", "", {"customer_id": author["id"], "kind": "idea", "title": "T", "body": "B"}),
        ("post", "/endorsements", {"customer_id": fan["id"]}),
        ("post", "/conversion", {"customer_id": fan["id"]}),
    ]


def curate_calls() -> list[tuple[str, str, dict[str, Any]]]:
    return [("put", "/status", {"status": "under_review"}), ("post", "/rewards", {"description": "Mug"})]


def call(client: Any, method: str, referral: dict[str, Any], tail: str, body: dict[str, Any] | None) -> Any:
    path = "/v1/contributions" if method == "post" and tail == "" else url(referral, tail)
    return client.get(path) if method == "get" else getattr(client, method)(path, json=body)


@pytest.mark.parametrize("index", range(3), ids=["submit", "endorse", "convert"])
def test_marketing_may_not_submit_endorse_or_convert_and_gets_403_without_an_event(
    as_role: Any,
    author: dict[str, Any],
    fan: dict[str, Any],
    referral: dict[str, Any],
    application: CustomerRelations,
    index: int,
) -> None:
    marketing = as_role("marketing")
    method, tail, body = write_calls(author, fan)[index]
    with records_no_event(application):
        assert_problem(call(marketing, method, referral, tail, body), 403, "forbidden")


@pytest.mark.parametrize("index", range(6), ids=["get-one", "submit", "endorse", "convert", "status", "reward"])
def test_integration_gets_403_on_every_contribution_endpoint_and_records_nothing(
    as_role: Any,
    author: dict[str, Any],
    fan: dict[str, Any],
    referral: dict[str, Any],
    application: CustomerRelations,
    index: int,
) -> None:
    integration = as_role("integration")
    method, tail, body = [("get", "", None), *write_calls(author, fan), *curate_calls()][index]
    with records_no_event(application):
        response = call(integration, method, referral, tail if method != "get" else "", body)
        assert_problem(response, 403, "forbidden")


def test_integration_gets_403_on_the_contributions_board(as_role: Any) -> None:
    assert_problem(as_role("integration").get("/v1/contributions"), 403, "forbidden")


@pytest.mark.parametrize("index", range(6), ids=["get-one", "submit", "endorse", "convert", "status", "reward"])
def test_every_contribution_endpoint_without_a_token_is_401_and_records_nothing(
    client: Any,
    author: dict[str, Any],
    fan: dict[str, Any],
    referral: dict[str, Any],
    application: CustomerRelations,
    index: int,
) -> None:
    method, tail, body = [("get", "", None), *write_calls(author, fan), *curate_calls()][index]
    with records_no_event(application):
        assert_problem(call(client, method, referral, tail, body), 401, "unauthenticated")
