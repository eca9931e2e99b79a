"""Fixtures shared by every test: the store backends, the app, and authenticated clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.application import CustomerRelations
from service.app import create_app
from service.settings import Settings

POSTGRES_URL_VARIABLE = "CONVERSA_TEST_POSTGRES_URL"


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
def app(settings: Settings) -> Iterator[Flask]:
    flask_app = create_app({"TESTING": True}, settings=settings)
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
