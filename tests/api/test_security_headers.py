"""Security headers on every answer, errors included."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import ApiClient


def test_an_authenticated_answer_is_never_stored_or_sniffed(agent: ApiClient) -> None:
    response = agent.post("/v1/customers", json={"name": "Dana"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_problem_documents_carry_the_same_headers(client: FlaskClient, admin_token: str) -> None:
    response = client.get("/v1/agents")
    assert response.status_code == 401
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_public_health_answers_are_not_sniffed_either(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Cache-Control" not in response.headers or "no-store" not in response.headers["Cache-Control"]
