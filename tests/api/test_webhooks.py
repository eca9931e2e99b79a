"""Webhook subscriptions over HTTP: create, list, get, delete, the delivery log, replay; secrets stay secret."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from domain.actor import SYSTEM
from domain.application import CustomerRelations
from service.webhook_delivery import DeliveryError, DeliveryWorker, RetryPolicy
from tests.api.test_errors import assert_problem
from tests.conftest import ApiClient

SECRET = "whsec_" + "k3y" * 10 + "Zq9x"  # 40 visible characters
HOOK = {"url": "https://hooks.example.com/conversa", "event_types": ["customer.registered"], "secret": SECRET}


@pytest.fixture
def integration(as_role: Any) -> ApiClient:
    client: ApiClient = as_role("integration", "Connector")
    return client


def create(client: ApiClient, **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={**HOOK, **changes})
    assert response.status_code == 201, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    return body


class ScriptedTransport:
    """Answers each POST with the next scripted status code, or fails like a dropped connection."""

    def __init__(self, script: list[int | str]) -> None:
        self.script = list(script)
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        self.sent.append((url, body, dict(headers)))
        outcome = self.script.pop(0) if self.script else 200
        if isinstance(outcome, str):
            raise DeliveryError(outcome)
        return outcome


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def worker_for(app: Flask, transport: ScriptedTransport, clock: Clock) -> DeliveryWorker:
    holder = app.extensions["conversa"]
    return DeliveryWorker(
        holder.integration_feed(), holder.webhooks(), transport, clock=clock, policy=RetryPolicy(), concurrency=1
    )


# ---- creating, and what is never shown ---------------------------------------------------------------


def test_a_webhook_is_created_with_a_hint_of_its_secret_and_never_the_secret(
    integration: ApiClient, application: CustomerRelations
) -> None:
    application.register_customer("Before", [], None, None, actor=SYSTEM)
    response = integration.post("/v1/webhooks", json=HOOK)
    assert response.status_code == 201
    created = response.json
    assert response.headers["Location"].endswith(f"/v1/webhooks/{created['id']}")
    assert created["url"] == HOOK["url"]
    assert created["event_types"] == ["customer.registered"]
    assert created["status"] == "active" and created["paused_reason"] is None
    assert created["position"] == application.head_position  # from now on: no history unless replayed
    assert created["secret_hint"] == "…" + SECRET[-4:]
    assert "secret" not in created
    answers = [
        response,
        integration.get(f"/v1/webhooks/{created['id']}"),
        integration.get("/v1/webhooks"),
        integration.post(f"/v1/webhooks/{created['id']}/replay?from=1"),
        integration.get(f"/v1/webhooks/{created['id']}/deliveries"),
    ]
    for answer in answers:
        assert 200 <= answer.status_code < 300
        assert SECRET not in answer.get_data(as_text=True)
        assert SECRET[:-4] not in answer.get_data(as_text=True)


def test_the_secret_is_not_in_the_contract_of_any_answer(app: Flask) -> None:
    from service.app import openapi_document

    schemas = openapi_document(app)["components"]["schemas"]
    assert schemas["WebhookCreate"]["properties"]["secret"]["writeOnly"] is True
    assert "secret" not in schemas["Webhook"]["properties"]


def test_webhooks_are_listed_oldest_first_with_a_cursor(integration: ApiClient) -> None:
    made = [create(integration, url=f"https://hooks.example.com/{n}")["id"] for n in range(3)]
    first = integration.get("/v1/webhooks?limit=2").json
    assert [w["id"] for w in first["items"]] == made[:2]
    second = integration.get(f"/v1/webhooks?limit=2&cursor={first['next_cursor']}").json
    assert [w["id"] for w in second["items"]] == made[2:]
    assert second["next_cursor"] is None


def test_a_deleted_webhook_is_gone_with_its_delivery_log(integration: ApiClient) -> None:
    webhook = create(integration)["id"]
    response = integration.delete(f"/v1/webhooks/{webhook}")
    assert response.status_code == 204 and response.get_data() == b""
    assert_problem(integration.get(f"/v1/webhooks/{webhook}"), 404, "not-found")
    assert_problem(integration.get(f"/v1/webhooks/{webhook}/deliveries"), 404, "not-found")
    assert_problem(integration.delete(f"/v1/webhooks/{webhook}"), 404, "not-found")
    assert_problem(integration.post(f"/v1/webhooks/{webhook}/replay?from=1"), 404, "not-found")


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"url": "ftp://hooks.example.com/x"}, "/url"),
        ({"url": "hooks.example.com/x"}, "/url"),
        ({"url": "https://user:password@hooks.example.com/x"}, "/url"),
        ({"url": "https://hooks.example.com/x#part"}, "/url"),
        ({"url": "https://hooks.example.com/" + "x" * 2000}, "/url"),
        ({"event_types": []}, "/event_types"),
        ({"event_types": ["customer.registered", "customer.registered"]}, "/event_types"),
        ({"event_types": ["Customer.Registered"]}, "/event_types/0"),
        ({"event_types": ["agent.registered"]}, "/event_types/0"),
        ({"secret": "too-short"}, "/secret"),
        ({"secret": "x" * 257}, "/secret"),
        ({"secret": "with spaces " * 4}, "/secret"),
        ({"secret": None}, "/secret"),
        ({"colour": "red"}, "/colour"),
    ],
)
def test_a_bad_subscription_is_refused(integration: ApiClient, change: dict[str, Any], pointer: str) -> None:
    problem = assert_problem(integration.post("/v1/webhooks", json={**HOOK, **change}), 422, "validation")
    assert pointer in [error["pointer"] for error in problem["errors"]]
    assert integration.get("/v1/webhooks").json["items"] == []


@pytest.mark.parametrize("missing", ["url", "event_types", "secret"])
def test_each_field_of_a_subscription_is_required(integration: ApiClient, missing: str) -> None:
    body = {k: v for k, v in HOOK.items() if k != missing}
    assert_problem(integration.post("/v1/webhooks", json=body), 422, "validation")


def test_plain_http_and_loopback_receivers_are_accepted(integration: ApiClient) -> None:
    assert create(integration, url="http://127.0.0.1:8080/hook")["url"] == "http://127.0.0.1:8080/hook"
    assert create(integration, url="http://localhost/hook")["url"] == "http://localhost/hook"


def test_only_integrations_and_admins_manage_webhooks(as_role: Any, admin: ApiClient) -> None:
    webhook = create(admin)["id"]
    for role in ("agent", "marketing"):
        caller = as_role(role)
        assert_problem(caller.get("/v1/webhooks"), 403, "forbidden")
        assert_problem(caller.post("/v1/webhooks", json=HOOK), 403, "forbidden")
        assert_problem(caller.get(f"/v1/webhooks/{webhook}/deliveries"), 403, "forbidden")
        assert_problem(caller.delete(f"/v1/webhooks/{webhook}"), 403, "forbidden")
    assert as_role("integration").get(f"/v1/webhooks/{webhook}").status_code == 200


# ---- the delivery log and replays ----------------------------------------------------------------------


def test_the_delivery_log_shows_status_codes_errors_attempts_and_the_next_retry(
    app: Flask, application: CustomerRelations, integration: ApiClient
) -> None:
    webhook = create(integration)["id"]
    application.register_customer("Dana Scully", [], None, None, actor=SYSTEM)
    transport, clock = ScriptedTransport([500, "the connection was dropped without an answer", 503]), Clock()
    worker = worker_for(app, transport, clock)
    worker.run_once()
    log = integration.get(f"/v1/webhooks/{webhook}/deliveries").json["items"]
    assert len(log) == 1
    entry = log[0]
    assert entry["status"] == "pending" and entry["attempts"] == 1 and entry["status_code"] == 500
    assert entry["event_type"] == "customer.registered" and entry["event_id"] == application.head_position - 1
    next_attempt = datetime.fromisoformat(entry["next_attempt_at"])
    assert clock.now + timedelta(seconds=15) <= next_attempt <= clock.now + timedelta(seconds=30)
    clock.now = next_attempt
    worker.run_once()
    entry = integration.get(f"/v1/webhooks/{webhook}/deliveries").json["items"][0]
    assert entry["attempts"] == 2 and entry["status_code"] is None
    assert entry["error"] == "the connection was dropped without an answer"
    for _ in range(2):
        clock.now = datetime.fromisoformat(entry["next_attempt_at"])
        worker.run_once()
        entry = integration.get(f"/v1/webhooks/{webhook}/deliveries").json["items"][0]
    assert entry["status"] == "delivered" and entry["attempts"] == 4 and entry["status_code"] == 200
    assert entry["error"] is None and entry["next_attempt_at"] is None
    assert entry["completed_at"] == entry["last_attempt_at"]
    assert datetime.fromisoformat(entry["first_attempt_at"]) < datetime.fromisoformat(entry["last_attempt_at"])
    assert len(transport.sent) == 4


def test_the_delivery_log_pages_newest_first_and_filters_by_status(
    app: Flask, application: CustomerRelations, integration: ApiClient
) -> None:
    webhook = create(integration)["id"]
    for name in ("Ann", "Bob", "Cy"):
        application.register_customer(name, [], None, None, actor=SYSTEM)
    worker_for(app, ScriptedTransport([200, 200, 500]), Clock()).run_once()
    first = integration.get(f"/v1/webhooks/{webhook}/deliveries?limit=2").json
    assert [(d["id"], d["status"]) for d in first["items"]] == [(3, "pending"), (2, "delivered")]
    rest = integration.get(f"/v1/webhooks/{webhook}/deliveries?limit=2&cursor={first['next_cursor']}").json
    assert [d["id"] for d in rest["items"]] == [1] and rest["next_cursor"] is None
    delivered = integration.get(f"/v1/webhooks/{webhook}/deliveries?status=delivered").json["items"]
    assert [d["id"] for d in delivered] == [2, 1]
    assert_problem(integration.get(f"/v1/webhooks/{webhook}/deliveries?status=lost"), 422, "validation")


def test_a_replay_sends_the_subscriptions_events_again_from_the_id_given(
    app: Flask, application: CustomerRelations, integration: ApiClient
) -> None:
    first = application.register_customer("Ann", [], None, None, actor=SYSTEM).position
    application.register_customer("Bob", [], None, None, actor=SYSTEM)
    webhook = create(integration)["id"]
    transport = ScriptedTransport([])
    worker = worker_for(app, transport, Clock())
    assert worker.run_once() == 0 and transport.sent == []  # created after them: nothing to send
    assert first is not None
    replayed = integration.post(f"/v1/webhooks/{webhook}/replay?from={first - 1}")
    assert replayed.status_code == 202
    assert replayed.json["position"] == first - 2
    worker.run_once()
    names = [json.loads(body)["payload"]["name"] for _, body, _ in transport.sent]
    assert names == ["Ann", "Bob"]


@pytest.mark.parametrize("query", ["", "from=0", "from=-3", "from=x", "from=1&to=3"])
def test_a_replay_needs_a_position_of_at_least_one(integration: ApiClient, query: str) -> None:
    webhook = create(integration)["id"]
    assert_problem(integration.post(f"/v1/webhooks/{webhook}/replay?{query}"), 422, "validation")


def test_a_replay_from_beyond_the_end_of_the_log_is_refused(
    integration: ApiClient, application: CustomerRelations
) -> None:
    webhook = create(integration)["id"]
    head = application.head_position
    assert integration.post(f"/v1/webhooks/{webhook}/replay?from={head + 1}").status_code == 202
    assert_problem(integration.post(f"/v1/webhooks/{webhook}/replay?from={head + 2}"), 422, "rule-violation")
