"""CORS: off by default; the listed origins, exactly, may call the API from a browser."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.settings import Settings
from tests.conftest import ApiClient

APP_ORIGIN = "https://crm.example.com"
LOCAL_ORIGIN = "http://[::1]:3000"
REQUEST_HEADERS = "Authorization, Content-Type, If-Match, Idempotency-Key, Conversa-Min-Position"
# Preflights are answered by Flask and flask-cors, before any operation of openapi.yaml.
SENDS_PREFLIGHTS = pytest.mark.outside_contract("a preflight (OPTIONS) is no operation of the contract")
EXPOSED = {
    "etag",
    "location",
    "conversa-position",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
}


@pytest.fixture
def cors_origins() -> tuple[str, ...]:
    return (APP_ORIGIN, LOCAL_ORIGIN)


@pytest.fixture
def settings(settings: Settings, cors_origins: tuple[str, ...]) -> Settings:
    return replace(settings, cors_origins=cors_origins, rate_limit="2/minute")


def cors_headers(response: Any) -> dict[str, str]:
    return {
        name.lower(): value for name, value in response.headers.items() if name.lower().startswith("access-control-")
    }


def header_names(value: str) -> set[str]:
    return {name.strip().lower() for name in value.split(",") if name.strip()}


def preflight(client: FlaskClient, origin: str, path: str = "/v1/customers", method: str = "POST") -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": REQUEST_HEADERS,
        },
    )


# ---- off by default -------------------------------------------------------------------------------


@SENDS_PREFLIGHTS
@pytest.mark.parametrize("cors_origins", [()])
def test_without_listed_origins_no_answer_allows_a_browser_anything(admin: ApiClient, client: FlaskClient) -> None:
    assert cors_headers(admin.get("/v1/agents", headers={"Origin": APP_ORIGIN})) == {}
    assert cors_headers(preflight(client, APP_ORIGIN)) == {}
    assert "Origin" not in admin.get("/v1/agents").headers.get("Vary", "")


# ---- listed origins -------------------------------------------------------------------------------


@SENDS_PREFLIGHTS
@pytest.mark.parametrize("origin", [APP_ORIGIN, LOCAL_ORIGIN])
def test_a_preflight_from_a_listed_origin_succeeds_without_a_token(client: FlaskClient, origin: str) -> None:
    answer = preflight(client, origin)
    assert answer.status_code == 200
    headers = cors_headers(answer)
    assert headers["access-control-allow-origin"] == origin
    assert header_names(headers["access-control-allow-headers"]) == header_names(REQUEST_HEADERS)
    assert "post" in header_names(headers["access-control-allow-methods"])
    assert headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in headers


@SENDS_PREFLIGHTS
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_every_method_of_the_api_is_allowed(client: FlaskClient, method: str) -> None:
    allowed = cors_headers(preflight(client, APP_ORIGIN, method=method))["access-control-allow-methods"]
    assert method.lower() in header_names(allowed)


@SENDS_PREFLIGHTS
def test_a_preflight_asking_for_an_unlisted_header_is_not_granted_it(client: FlaskClient) -> None:
    answer = client.options(
        "/v1/customers",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, X-Debug",
        },
    )
    assert header_names(cors_headers(answer)["access-control-allow-headers"]) == {"authorization"}


def test_an_answer_to_a_listed_origin_allows_it_and_exposes_the_api_headers(agent: ApiClient) -> None:
    created = agent.post("/v1/customers", json={"name": "Dana"}, headers={"Origin": APP_ORIGIN})
    assert created.status_code == 201
    headers = cors_headers(created)
    assert headers["access-control-allow-origin"] == APP_ORIGIN
    assert header_names(headers["access-control-expose-headers"]) == EXPOSED
    assert "Origin" in created.headers["Vary"]
    assert {"ETag", "Location", "Conversa-Position", "RateLimit-Remaining"} <= set(created.headers.keys())


def test_problem_answers_carry_cors_headers_so_that_the_browser_may_read_them(client: FlaskClient) -> None:
    origin = {"Origin": APP_ORIGIN}
    unauthenticated = [client.get("/v1/agents", headers=origin) for _ in range(2)]
    rate_limited = client.get("/v1/agents", headers=origin)
    assert [answer.status_code for answer in unauthenticated] == [401, 401]
    assert rate_limited.status_code == 429
    for answer in [*unauthenticated, rate_limited]:
        assert cors_headers(answer)["access-control-allow-origin"] == APP_ORIGIN
    assert {"retry-after", "ratelimit-reset"} <= header_names(
        cors_headers(rate_limited)["access-control-expose-headers"]
    )


@SENDS_PREFLIGHTS
def test_preflights_are_never_rate_limited(client: FlaskClient) -> None:
    answers = [preflight(client, APP_ORIGIN) for _ in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 5
    assert not any(name.startswith("RateLimit-") for answer in answers for name, _ in answer.headers.items())


# ---- other origins --------------------------------------------------------------------------------


@SENDS_PREFLIGHTS
@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.net",
        "http://crm.example.com",  # another scheme
        "https://crm.example.com:8443",  # another port
        "https://crm.example.com.evil.net",  # the listed one as a prefix
        "https://evil.net/https://crm.example.com",
        "https://app.crm.example.com",
        "http://[::1]:30001",
        "null",
    ],
)
def test_an_origin_not_listed_exactly_gets_no_cors_headers(admin: ApiClient, client: FlaskClient, origin: str) -> None:
    assert cors_headers(preflight(client, origin)) == {}
    answer = admin.get("/v1/agents", headers={"Origin": origin})
    assert answer.status_code == 200
    assert cors_headers(answer) == {}
    assert "Origin" in answer.headers["Vary"]  # a cache must not give this answer to a listed origin


def test_origins_are_compared_without_regard_to_case_as_browsers_send_them_lowercase(admin: ApiClient) -> None:
    answer = admin.get("/v1/agents", headers={"Origin": "https://CRM.example.com"})
    assert cors_headers(answer)["access-control-allow-origin"] == "https://CRM.example.com"


def test_a_request_without_origin_gets_no_cors_headers(admin: ApiClient) -> None:
    assert cors_headers(admin.get("/v1/agents")) == {}
