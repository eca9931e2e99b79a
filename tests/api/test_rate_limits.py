"""Rate limits: one budget per agent (per address without a valid token), 429 problems beyond it,
RateLimit headers on every limited answer, health and documentation exempt."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import limits.storage.memory
import pytest
from flask import Flask
from flask.testing import FlaskClient
from limits import parse_many

import service.rate_limits
from service.app import create_app, openapi_document
from service.settings import DEFAULT_RATE_LIMIT, Settings
from tests.conftest import ApiClient

REDIS_URL_VARIABLE = "CONVERSA_TEST_REDIS_URL"
SMALL_LIMIT = "3/minute"
NOT_AN_OPERATION = pytest.mark.outside_contract("the documentation is served beside the API, not described by it")
START = 1_800_000_000.0  # a moment on the test clock: 2027-01-15T08:00:00Z


@pytest.fixture
def rate_limit() -> str:
    """The limit of the app under test; a test may parametrize it."""
    return SMALL_LIMIT


@pytest.fixture
def settings(settings: Settings, rate_limit: str) -> Settings:
    return replace(settings, rate_limit=rate_limit)


class Clock:
    """Stands in for the time module where the limits are counted and the headers written."""

    def __init__(self) -> None:
        self.now = START

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    monkeypatch.setattr(service.rate_limits, "time", clock)
    return clock


def rate_headers(response: Any) -> tuple[int, int, int]:
    """(limit, remaining, seconds to reset) of an answer."""
    return (
        int(response.headers["RateLimit-Limit"]),
        int(response.headers["RateLimit-Remaining"]),
        int(response.headers["RateLimit-Reset"]),
    )


def assert_rate_limited(response: Any) -> None:
    assert response.status_code == 429
    assert response.content_type == "application/problem+json"
    problem = response.json
    assert problem["type"] == "urn:conversa:problem:rate-limited"
    assert (problem["status"], problem["title"]) == (429, "Too Many Requests")
    assert "3 per 1 minute" in problem["detail"]
    assert response.headers["RateLimit-Remaining"] == "0"
    assert int(response.headers["Retry-After"]) >= 1


def spend(client: ApiClient, times: int) -> list[Any]:
    return [client.get("/v1/agents") for _ in range(times)]


# ---- headers and the 429 --------------------------------------------------------------------------


def test_every_answer_within_the_limit_says_how_much_is_left(admin: ApiClient) -> None:
    answers = spend(admin, 3)
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert [rate_headers(answer)[:2] for answer in answers] == [(3, 2), (3, 1), (3, 0)]
    assert all(1 <= rate_headers(answer)[2] <= 60 for answer in answers)
    assert all("Retry-After" not in answer.headers for answer in answers)


def test_a_request_over_the_limit_gets_a_429_problem_saying_when_to_come_back(admin: ApiClient) -> None:
    spend(admin, 3)
    refused = admin.get("/v1/agents")
    assert_rate_limited(refused)
    assert refused.headers["Retry-After"] == refused.headers["RateLimit-Reset"]
    assert rate_headers(refused)[:2] == (3, 0)


def test_a_refused_write_records_nothing(admin: ApiClient, application: Any) -> None:
    spend(admin, 3)
    head = application.head_position
    assert_rate_limited(admin.post("/v1/customers", json={"name": "Dana"}))
    assert application.head_position == head


def test_the_window_resets_after_the_seconds_it_announced(admin: ApiClient, clock: Clock) -> None:
    first = admin.get("/v1/agents")
    assert rate_headers(first) == (3, 2, 60)
    clock.now += 20
    assert rate_headers(admin.get("/v1/agents")) == (3, 1, 40)
    admin.get("/v1/agents")
    clock.now += 39
    refused = admin.get("/v1/agents")
    assert_rate_limited(refused)
    assert (refused.headers["RateLimit-Reset"], refused.headers["Retry-After"]) == ("1", "1")
    clock.now += 1
    again = admin.get("/v1/agents")
    assert again.status_code == 200
    assert rate_headers(again) == (3, 2, 60)


# ---- whom a request counts against ----------------------------------------------------------------


def test_each_agent_has_a_budget_of_its_own(admin: ApiClient, as_role: Any) -> None:
    ann, bob = as_role("agent", "Ann"), as_role("agent", "Bob")  # two of admin's three
    spend(ann, 3)
    assert_rate_limited(ann.get("/v1/customers"))
    assert bob.get("/v1/customers").status_code == 200
    assert rate_headers(bob.get("/v1/customers"))[1] == 1
    assert rate_headers(admin.get("/v1/agents"))[1] == 0


def test_a_new_token_for_the_same_agent_shares_its_budget(admin: ApiClient, client: FlaskClient) -> None:
    ann = admin.post("/v1/agents", json={"name": "Ann", "role": "agent"}).json
    old_token = ApiClient(client, ann["token"])
    assert [answer.status_code for answer in spend(old_token, 2)] == [403, 403]  # agents may not list agents
    rotated = admin.post(f"/v1/agents/{ann['id']}/token")
    assert rotated.status_code in (200, 201), rotated.json
    new_token = ApiClient(client, rotated.json["token"])
    assert rate_headers(new_token.get("/v1/customers"))[1] == 0
    assert_rate_limited(new_token.get("/v1/customers"))
    assert old_token.get("/v1/customers").status_code == 401  # revoked: counted by address, not as Ann


def test_requests_without_a_valid_token_are_counted_by_remote_address(client: FlaskClient) -> None:
    here, there = {"REMOTE_ADDR": "203.0.113.7"}, {"REMOTE_ADDR": "198.51.100.9"}
    statuses = [
        client.get("/v1/agents", environ_base=here).status_code,
        client.get("/v1/agents", headers={"Authorization": "Bearer cnv_guessed"}, environ_base=here).status_code,
        client.get("/v1/agents", headers={"Authorization": "Basic YTpi"}, environ_base=here).status_code,
    ]
    assert statuses == [401, 401, 401]
    assert_rate_limited(client.get("/v1/agents", environ_base=here))
    elsewhere = client.get("/v1/agents", environ_base=there)
    assert elsewhere.status_code == 401
    assert rate_headers(elsewhere)[1] == 2


def test_a_strangers_bad_tokens_never_use_up_an_agents_budget(admin: ApiClient, client: FlaskClient) -> None:
    forged = ApiClient(client, admin.token + "x")
    spend(forged, 4)
    answer = admin.get("/v1/agents")
    assert answer.status_code == 200
    assert rate_headers(answer)[1] == 2


# ---- what is never limited ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/readyz",
        *(pytest.param(path, marks=NOT_AN_OPERATION) for path in ("/openapi.json", "/docs")),
    ],
)
def test_health_and_documentation_answer_even_when_the_budget_is_spent(client: FlaskClient, path: str) -> None:
    for _ in range(4):
        client.get("/v1/agents")
    assert client.get("/v1/agents").status_code == 429
    answers = [client.get(path) for _ in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 5
    assert not any(name.startswith("RateLimit-") for answer in answers for name, _ in answer.headers.items())


@pytest.mark.parametrize("rate_limit", [DEFAULT_RATE_LIMIT])
def test_the_default_leaves_a_busy_agent_far_from_the_limit(agent: ApiClient) -> None:
    # The busiest test of the suite sends 45 requests from one client; a busy person far fewer.
    burst = 250
    answers = [agent.get("/v1/customers") for _ in range(burst)]
    assert {answer.status_code for answer in answers} == {200}
    limit, remaining, _ = rate_headers(answers[-1])
    assert limit == parse_many(DEFAULT_RATE_LIMIT)[0].amount
    assert remaining == limit - burst
    assert remaining > 3 * burst


# ---- where the counts live ------------------------------------------------------------------------


def test_without_shared_storage_each_process_counts_on_its_own(
    app: Flask, admin: ApiClient, settings: Settings
) -> None:
    other_worker = create_app({"TESTING": True}, settings=settings)
    try:
        spend(admin, 3)
        assert_rate_limited(admin.get("/v1/agents"))
        assert ApiClient(other_worker.test_client(), admin.token).get("/v1/agents").status_code == 200
    finally:
        other_worker.extensions["conversa"].close()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        pytest.skip(f"shared rate limits need {REDIS_URL_VARIABLE}=redis://127.0.0.1:6379/0")
    return url


@pytest.fixture
def workers(settings: Settings, redis_url: str) -> Iterator[list[FlaskClient]]:
    """Two apps, as two worker processes would have, counting in one Redis (under a key prefix of
    this test's own, so that no other run's counts meet these)."""
    shared = replace(settings, rate_limit_storage_uri=redis_url)
    config = {"TESTING": True, "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    apps = [create_app(config, settings=shared) for _ in range(2)]
    yield [app.test_client() for app in apps]
    for app in apps:
        app.extensions["conversa"].close()
        for limiter in app.extensions["limiter"]:
            limiter.storage.storage.close()  # the redis.Redis client and its connections


def test_workers_sharing_a_redis_storage_share_one_budget(workers: list[FlaskClient], admin_token: str) -> None:
    first, second = (ApiClient(worker, admin_token) for worker in workers)
    assert [rate_headers(first.get("/v1/agents"))[1], rate_headers(second.get("/v1/agents"))[1]] == [2, 1]
    assert first.get("/v1/agents").status_code == 200
    assert_rate_limited(second.get("/v1/agents"))


def test_an_unreachable_redis_falls_back_to_counting_in_each_process(
    settings: Settings, admin_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = replace(settings, rate_limit_storage_uri="redis://127.0.0.1:1/0")  # nothing listens on port 1
    app = create_app({"TESTING": True}, settings=unreachable)
    try:
        admin = ApiClient(app.test_client(), admin_token)
        answers = spend(admin, 3)
        assert [answer.status_code for answer in answers] == [200, 200, 200]
        assert [rate_headers(answer)[1] for answer in answers] == [2, 1, 0]
        assert_rate_limited(admin.get("/v1/agents"))
        assert "falling back to in-memory storage" in caplog.text
    finally:
        app.extensions["conversa"].close()


# ---- the contract ---------------------------------------------------------------------------------


@pytest.fixture
def document(tmp_path: Path) -> dict[str, Any]:
    """The OpenAPI document; it depends on the code alone, so one backend is enough."""
    return openapi_document(
        create_app(settings=Settings(database_url=f"sqlite:///{tmp_path / 'unused'}", data_dir=tmp_path))
    )


def test_every_v1_operation_documents_the_429_and_the_ratelimit_headers(document: dict[str, Any]) -> None:
    v1 = {path: ops for path, ops in document["paths"].items() if path.startswith("/v1/")}
    assert v1
    for path, operations in v1.items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert responses["429"] == {"$ref": "#/components/responses/RATE_LIMITED"}, (path, method)
            successes = [response for status, response in responses.items() if status.startswith("2")]
            assert successes, (path, method)
            for success in successes:
                assert {
                    name: success["headers"][name]
                    for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
                } == {
                    "RateLimit-Limit": {"$ref": "#/components/headers/RateLimit-Limit"},
                    "RateLimit-Remaining": {"$ref": "#/components/headers/RateLimit-Remaining"},
                    "RateLimit-Reset": {"$ref": "#/components/headers/RateLimit-Reset"},
                }, (path, method)
    rate_limited = document["components"]["responses"]["RATE_LIMITED"]
    assert list(rate_limited["content"]) == ["application/problem+json"]
    assert set(rate_limited["headers"]) == {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}


def test_health_checks_document_no_rate_limit(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path in ("/healthz", "/readyz"):
        assert "429" not in paths[path]["get"]["responses"]
        assert "RateLimit-Limit" not in paths[path]["get"]["responses"]["200"].get("headers", {})
