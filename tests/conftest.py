"""Fixtures shared by every test: the store backends, the app, and authenticated clients."""

from __future__ import annotations

import functools
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.exceptions import HTTPException
from werkzeug.test import TestResponse

from domain.application import CustomerRelations
from service.app import create_app
from service.settings import Settings

POSTGRES_URL_VARIABLE = "CONVERSA_TEST_POSTGRES_URL"
CONTRACT_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"
OUTSIDE_CONTRACT = "outside_contract"
RESPONSE_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{OUTSIDE_CONTRACT}(reason): the test's requests deliberately leave openapi.yaml (an undocumented path or "
        "method, a page that is no API operation), so their answers are not checked against it",
    )


@functools.cache
def contract() -> Any:
    """openapi.yaml, the committed contract, loaded once."""
    return schemathesis.openapi.from_path(CONTRACT_PATH)


def _operation(app: Flask, method: str, path: str) -> tuple[Any, dict[str, Any]] | None:
    """The contract's operation for a request, with its path parameters."""
    try:  # the app's own routing knows <path:…> parameters (a tag or a handle may hold "/")
        rule, parameters = app.url_map.bind("localhost").match(path, method, return_rule=True)
        template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
    except HTTPException:  # not routed, such as an id that is no UUID: match the contract's templates
        operation = contract().find_operation_by_path(method, path)
        if operation is None:
            return None
        template = operation.path
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        parameters = re.fullmatch(pattern, path).groupdict()  # type: ignore[union-attr]
    if method.lower() not in contract().raw_schema["paths"].get(template, {}):
        return None
    return contract()[template][method], parameters


def check_against_contract(app: Flask, response: TestResponse) -> None:
    """Fail unless the answer is one openapi.yaml documents for its request: status code, content type,
    headers and body. Every answer of the test client goes through here unless the test is marked
    outside_contract."""
    __tracebackhide__ = True
    method, path = response.request.method, response.request.path
    found = _operation(app, method, path)
    if found is None:
        pytest.fail(f"{method} {path} is no operation of openapi.yaml (mark the test {OUTSIDE_CONTRACT} if meant)")
    operation, path_parameters = found
    operation.Case(method=method, path_parameters=path_parameters).validate_response(response, checks=RESPONSE_CHECKS)


class ContractCheckingClient(FlaskClient):
    """The Flask test client, checking each answer against the contract."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response: TestResponse = super().open(*args, **kwargs)
        check_against_contract(self.application, response)
        return response


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh, empty store: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'conversa.sqlite'}", data_dir=tmp_path)
        return
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_VARIABLE}=postgresql://… (.ci/run sets it)")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Settings(database_url=f"{url}?schema={schema}", data_dir=tmp_path)
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def app(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Flask]:
    flask_app = create_app({"TESTING": True}, settings=settings)
    if request.node.get_closest_marker(OUTSIDE_CONTRACT) is None:
        flask_app.test_client_class = ContractCheckingClient
    yield flask_app
    flask_app.extensions["conversa"].close()


@pytest.fixture
def application(app: Flask) -> CustomerRelations:
    """The same CustomerRelations instance the app uses."""
    holder = app.extensions["conversa"]
    return holder.get()  # type: ignore[no-any-return]


@pytest.fixture
def project(app: Flask) -> Any:
    """Bring the views up to date with every event written so far; the number applied."""
    holder = app.extensions["conversa"]
    return holder.projector().catch_up


@pytest.fixture
def admin_token(application: CustomerRelations) -> str:
    token = application.bootstrap_admin()
    assert token is not None
    return token


class ApiClient:
    """A test client that sends one agent's bearer token with every request."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, url: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(url, json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def put(self, url: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.put(url, json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def patch(self, url: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.patch(url, json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.client.delete(url, headers=self._headers(kwargs.pop("headers", None)), **kwargs)


@pytest.fixture
def admin(client: FlaskClient, admin_token: str) -> ApiClient:
    return ApiClient(client, admin_token)


@pytest.fixture
def as_role(client: FlaskClient, admin: ApiClient) -> Any:
    """Make an agent of the given role and return a client that acts as it."""

    def make(role: str, name: str | None = None) -> ApiClient:
        response = admin.post("/v1/agents", json={"name": name or f"{role} agent", "role": role})
        assert response.status_code == 201, response.json
        return ApiClient(client, response.json["token"])

    return make


@pytest.fixture
def agent(as_role: Any) -> ApiClient:
    """A support agent named Ann Agent."""
    client: ApiClient = as_role("agent", "Ann Agent")
    return client
