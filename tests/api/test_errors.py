"""Every error is an RFC 9457 problem document, and no refused request records an event."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.actor import SYSTEM
from domain.application import CustomerRelations
from service.app import create_app
from service.settings import Settings
from tests.conftest import ApiClient

PROBLEM = "application/problem+json"
PROBLEM_TYPE = re.compile(r"^urn:conversa:problem:[a-z]+(-[a-z]+)*$")
MEBIBYTE = 1024 * 1024


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    """The response is a problem document of this status and kind; its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json(force=True)
    assert PROBLEM_TYPE.match(body["type"]), body
    assert body["type"] == f"urn:conversa:problem:{slug}"
    assert body["title"] == HTTPStatus(status).phrase
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"].strip()
    return body


def json_of_size(size: int) -> bytes:
    """A valid customer registration, padded with JSON whitespace to exactly `size` bytes."""
    start, end = b'{"name": "Dana"', b"}"
    padding = size - len(start) - len(end)
    assert padding >= 0
    return start + b" " * padding + end


@pytest.fixture
def customer_id(application: CustomerRelations) -> uuid.UUID:
    written = application.register_customer("Dana Scully", [], None, None, actor=SYSTEM)
    return written.aggregate.id  # type: ignore[no-any-return]


# ---- the shape of every kind of error -------------------------------------------------------------

# (name, status, slug, request): each request is made by an admin unless it says otherwise.
Call = Callable[[ApiClient, FlaskClient, uuid.UUID], Any]
ERRORS: list[tuple[str, int, str, Call]] = [
    (
        "malformed json",
        400,
        "bad-request",
        lambda admin, client, cid: admin.post("/v1/customers", data='{"name": "Dana"', content_type="application/json"),
    ),
    (
        "an If-Match that is no entity tag",
        400,
        "bad-precondition",
        lambda admin, client, cid: admin.patch(
            f"/v1/customers/{cid}", json={"name": "Dana"}, headers={"If-Match": "yesterday"}
        ),
    ),
    ("no token", 401, "unauthenticated", lambda admin, client, cid: client.get(f"/v1/customers/{cid}")),
    (
        "an unknown route",
        404,
        "not-found",
        lambda admin, client, cid: admin.get("/v1/no-such-thing"),
    ),
    (
        "an id that is no uuid",
        404,
        "not-found",
        lambda admin, client, cid: admin.get("/v1/customers/not-a-uuid"),
    ),
    (
        "an unknown customer",
        404,
        "not-found",
        lambda admin, client, cid: admin.get(f"/v1/customers/{uuid.uuid4()}"),
    ),
    ("a wrong method", 405, "method-not-allowed", lambda admin, client, cid: admin.delete("/v1/customers")),
    (
        "a stale If-Match",
        412,
        "stale-version",
        lambda admin, client, cid: admin.patch(
            f"/v1/customers/{cid}", json={"name": "Dana"}, headers={"If-Match": '"99"'}
        ),
    ),
    (
        "a body over one mebibyte",
        413,
        "body-too-large",
        lambda admin, client, cid: admin.post(
            "/v1/customers", data=json_of_size(MEBIBYTE + 1), content_type="application/json"
        ),
    ),
    (
        "an unknown field",
        422,
        "validation",
        lambda admin, client, cid: admin.post("/v1/customers", json={"name": "Dana", "nickname": "D"}),
    ),
    (
        "a json array instead of an object",
        422,
        "validation",
        lambda admin, client, cid: admin.post("/v1/customers", json=[{"name": "Dana"}]),
    ),
    (
        "a json string instead of an object",
        422,
        "validation",
        lambda admin, client, cid: admin.post("/v1/customers", json="Dana"),
    ),
    (
        "a field of the wrong type",
        422,
        "validation",
        lambda admin, client, cid: admin.post(f"/v1/customers/{cid}/nps", json={"score": "ten"}),
    ),
]


# No operation of the contract answers these: there is nothing to check their answers against.
OUTSIDE_THE_CONTRACT = {"an unknown route", "a wrong method"}


@pytest.mark.parametrize(
    ("status", "slug", "call"),
    [
        pytest.param(
            *case[1:],
            id=case[0].replace(" ", "-"),
            marks=[pytest.mark.outside_contract(case[0])] if case[0] in OUTSIDE_THE_CONTRACT else [],
        )
        for case in ERRORS
    ],
)
def test_each_kind_of_error_is_a_problem_document_and_records_no_event(
    admin: ApiClient,
    client: FlaskClient,
    application: CustomerRelations,
    customer_id: uuid.UUID,
    status: int,
    slug: str,
    call: Call,
) -> None:
    before = application.head_position
    assert_problem(call(admin, client, customer_id), status, slug)
    assert application.head_position == before


def test_malformed_json_is_a_400_that_points_at_the_whole_body(admin: ApiClient) -> None:
    response = admin.post("/v1/customers", data='{"name": "Dana",}', content_type="application/json")
    body = assert_problem(response, 400, "bad-request")
    assert [(e["location"], e["pointer"]) for e in body["errors"]] == [("json", "/")]


def test_an_unknown_field_is_a_422_whose_errors_point_at_the_field(admin: ApiClient) -> None:
    response = admin.post("/v1/customers", json={"name": "Dana", "nickname": "D"})
    body = assert_problem(response, 422, "validation")
    assert body["errors"] == [{"location": "json", "pointer": "/nickname", "detail": "Unknown field."}]


def test_an_error_inside_a_list_points_at_the_item_and_its_field(admin: ApiClient) -> None:
    response = admin.post(
        "/v1/customers", json={"name": "Dana", "identities": [{"channel": "web", "handle": "d"}, {"handle": "x"}]}
    )
    body = assert_problem(response, 422, "validation")
    assert [e["pointer"] for e in body["errors"]] == ["/identities/1/channel"]


def test_a_json_array_instead_of_an_object_is_a_422_pointing_at_the_whole_body(admin: ApiClient) -> None:
    body = assert_problem(admin.post("/v1/customers", json=[{"name": "Dana"}]), 422, "validation")
    assert [e["pointer"] for e in body["errors"]] == ["/"]


def test_a_pointer_escapes_slash_and_tilde_in_a_field_name(admin: ApiClient) -> None:
    body = assert_problem(admin.post("/v1/customers", json={"name": "Dana", "a/b~c": 1}), 422, "validation")
    assert [e["pointer"] for e in body["errors"]] == ["/a~1b~0c"]  # RFC 6901


@pytest.mark.outside_contract("a method the contract does not list for the path")
def test_a_wrong_method_is_a_405_that_says_which_methods_are_allowed(admin: ApiClient) -> None:
    response = admin.delete("/v1/customers")
    assert_problem(response, 405, "method-not-allowed")
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert {"GET", "POST"} <= allowed
    assert "DELETE" not in allowed


@pytest.mark.outside_contract("a path the contract does not list")
def test_an_unknown_route_is_a_404_problem_even_without_a_token(client: FlaskClient) -> None:
    assert_problem(client.get("/v1/no-such-thing"), 404, "not-found")


def test_a_body_of_exactly_one_mebibyte_is_accepted_by_default(admin: ApiClient) -> None:
    response = admin.post("/v1/customers", data=json_of_size(MEBIBYTE), content_type="application/json")
    assert response.status_code == 201, response.json


def test_a_body_one_byte_over_one_mebibyte_is_a_413_by_default(
    admin: ApiClient, application: CustomerRelations
) -> None:
    before = application.head_position
    response = admin.post("/v1/customers", data=json_of_size(MEBIBYTE + 1), content_type="application/json")
    assert_problem(response, 413, "body-too-large")
    assert application.head_position == before


@pytest.fixture
def small_app(settings: Settings) -> Iterator[Flask]:
    """A second app on the same store that accepts bodies of at most 1000 bytes."""
    flask_app = create_app({"TESTING": True}, settings=dataclasses.replace(settings, max_body_bytes=1000))
    yield flask_app
    flask_app.extensions["conversa"].close()


def test_the_body_limit_follows_the_max_body_bytes_setting(
    small_app: Flask, admin_token: str, application: CustomerRelations
) -> None:
    small = ApiClient(small_app.test_client(), admin_token)
    before = application.head_position
    over = small.post("/v1/customers", data=json_of_size(1001), content_type="application/json")
    assert_problem(over, 413, "body-too-large")
    assert application.head_position == before
    at_limit = small.post("/v1/customers", data=json_of_size(1000), content_type="application/json")
    assert at_limit.status_code == 201, at_limit.json
    assert application.head_position > before


@pytest.mark.parametrize(
    "url", ["/v1/conversations?stauts=open", "/v1/advocates?min_scor=50", "/v1/kpis?form=2026-01-01"]
)
def test_a_misspelt_query_parameter_is_refused_rather_than_ignored(admin: ApiClient, url: str) -> None:
    response = admin.get(url)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert [error["location"] for error in response.json["errors"]] == ["query"]
    assert response.json["errors"][0]["detail"] == "Unknown field."
