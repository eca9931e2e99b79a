"""Idempotency-Key on POSTs: a retry has its effect once, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from domain.application import CustomerRelations
from service.app import create_app, openapi_document
from service.idempotency import Claim, IdempotencyKeys, fingerprint, purge_mentioning
from service.settings import Settings
from tests.conftest import ApiClient

PROBLEM = "application/problem+json"
KEPT_HEADERS = ("Content-Type", "Location", "ETag", "Conversa-Position")
DANA = {"name": "Dana Scully", "identities": [{"channel": "twitter", "handle": "@dana"}]}
FOX = {"name": "Fox Mulder", "identities": [{"channel": "twitter", "handle": "@fox"}]}
# No identity, so no uniqueness rule of the domain stops a second registration: only the key can.
PLAIN_DANA = {"name": "Dana Scully"}


# ---- helpers ------------------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **duration: float) -> None:
        self.now += timedelta(**duration)


@pytest.fixture
def keys(app: Flask) -> IdempotencyKeys:
    """The records the app keeps, on a clock of the test's own."""
    records: IdempotencyKeys = app.extensions["conversa"].idempotency_keys()
    records.clock = Clock()
    return records


def keyed(key: str, **headers: str) -> dict[str, str]:
    return {"Idempotency-Key": key, **headers}


def stored_rows(keys: IdempotencyKeys) -> list[tuple[Any, ...]]:
    with keys.database.transaction(write=False) as tx:
        return tx.query("SELECT agent_id, idempotency_key, path, status, headers, body FROM idempotency_keys")


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.json
    assert body["type"] == "urn:conversa:problem:" + slug
    assert body["detail"]
    return body


def customer_names(admin: ApiClient, project: Callable[[], int]) -> list[str]:
    project()
    return [item["name"] for item in admin.get("/v1/customers").json["items"]]


# ---- replays --------------------------------------------------------------------------------------


def test_a_retry_gets_the_first_answer_byte_for_byte_and_records_nothing(
    agent: ApiClient, application: CustomerRelations, keys: IdempotencyKeys
) -> None:
    first = agent.post("/v1/customers", json=DANA, headers=keyed("create-dana"))
    assert first.status_code == 201, first.json
    assert "Idempotent-Replayed" not in first.headers
    before = application.head_position

    retry = agent.post("/v1/customers", json=DANA, headers=keyed("create-dana"))

    assert retry.status_code == 201
    assert retry.get_data() == first.get_data()
    for name in KEPT_HEADERS:
        assert retry.headers[name] == first.headers[name], name
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["Cache-Control"] == "no-store"
    assert application.head_position == before


def test_the_same_key_with_another_body_is_refused_and_records_nothing(
    agent: ApiClient, application: CustomerRelations, keys: IdempotencyKeys
) -> None:
    agent.post("/v1/customers", json=DANA, headers=keyed("k1"))
    before = application.head_position

    response = agent.post("/v1/customers", json=FOX, headers=keyed("k1"))

    assert_problem(response, 422, "idempotency-key-reused")
    assert application.head_position == before


def test_the_same_key_on_another_path_is_refused(agent: ApiClient, keys: IdempotencyKeys) -> None:
    dana = agent.post("/v1/customers", json=DANA, headers=keyed("k1")).json
    tag = agent.post(f"/v1/customers/{dana['id']}/tags", json=DANA, headers=keyed("k1"))
    assert_problem(tag, 422, "idempotency-key-reused")


def test_another_agent_s_key_is_independent(
    agent: ApiClient, as_role: Any, project: Callable[[], int], admin: ApiClient, keys: IdempotencyKeys
) -> None:
    other = as_role("agent", "Bob Agent")
    first = agent.post("/v1/customers", json=DANA, headers=keyed("shared"))
    second = other.post("/v1/customers", json=FOX, headers=keyed("shared"))
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert sorted(customer_names(admin, project)) == ["Dana Scully", "Fox Mulder"]
    assert {row[0] for row in stored_rows(keys)} == {str(agent_id) for agent_id in (_agent_id(agent), _agent_id(other))}


def _agent_id(client: ApiClient) -> str:
    return str(client.client.application.extensions["conversa"].get().authenticate(client.token).id)


def test_a_final_refusal_is_kept_and_replayed(agent: ApiClient, keys: IdempotencyKeys) -> None:
    invalid = {"name": ""}
    first = agent.post("/v1/customers", json=invalid, headers=keyed("bad"))
    assert_problem(first, 422, "validation")
    retry = agent.post("/v1/customers", json=invalid, headers=keyed("bad"))
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_data() == first.get_data()
    assert retry.content_type == PROBLEM


def test_a_stale_if_match_is_not_kept_so_the_corrected_retry_runs(agent: ApiClient, keys: IdempotencyKeys) -> None:
    dana = agent.post("/v1/customers", json=DANA).json
    current = agent.patch(f"/v1/customers/{dana['id']}", json={"locale": "en"}).headers["ETag"]
    nps, answer = f"/v1/customers/{dana['id']}/nps", {"score": 9}

    for _ in range(2):  # refused afresh each time, never replayed
        stale = agent.post(nps, json=answer, headers=keyed("nps-1", **{"If-Match": '"1"'}))
        assert_problem(stale, 412, "stale-version")
        assert "Idempotent-Replayed" not in stale.headers
    assert stored_rows(keys) == []
    corrected = agent.post(nps, json=answer, headers=keyed("nps-1", **{"If-Match": current}))

    assert corrected.status_code == 201, corrected.json
    assert "Idempotent-Replayed" not in corrected.headers
    assert len(stored_rows(keys)) == 1


@pytest.mark.parametrize("propagated", [False, True], ids=["answered-500", "raised"])
def test_a_server_error_frees_the_key_for_a_retry(
    app: Flask,
    agent: ApiClient,
    application: CustomerRelations,
    keys: IdempotencyKeys,
    monkeypatch: pytest.MonkeyPatch,
    propagated: bool,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the store fell over")

    with monkeypatch.context() as patch:
        patch.setattr(application, "register_customer", broken)
        # Served, the error becomes a 500 answer; in a test it is raised to the client by default.
        patch.setitem(app.config, "PROPAGATE_EXCEPTIONS", propagated)
        if propagated:
            with pytest.raises(RuntimeError):
                agent.post("/v1/customers", json=DANA, headers=keyed("k"))
        else:
            assert_problem(agent.post("/v1/customers", json=DANA, headers=keyed("k")), 500, "server-error")
    assert stored_rows(keys) == []

    retry = agent.post("/v1/customers", json=DANA, headers=keyed("k"))
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers


# ---- concurrency ----------------------------------------------------------------------------------


def test_a_retry_while_the_first_request_runs_gets_409_and_the_first_one_wins(
    app: Flask,
    agent: ApiClient,
    admin: ApiClient,
    application: CustomerRelations,
    keys: IdempotencyKeys,
    project: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started, release = threading.Event(), threading.Event()
    register = application.register_customer

    def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(timeout=10), "the test never released the first request"
        return register(*args, **kwargs)

    monkeypatch.setattr(application, "register_customer", held)
    first: dict[str, Any] = {}
    running = threading.Thread(
        target=lambda: first.update(response=_post_from_own_client(app, agent.token, PLAIN_DANA, "race"))
    )
    running.start()
    try:
        assert started.wait(timeout=10), "the first request never reached the application"
        meanwhile = agent.post("/v1/customers", json=PLAIN_DANA, headers=keyed("race"))
    finally:
        release.set()
        running.join(timeout=20)

    assert_problem(meanwhile, 409, "idempotency-key-in-progress")
    assert meanwhile.headers["Retry-After"] == "1"
    assert first["response"].status_code == 201
    afterwards = agent.post("/v1/customers", json=PLAIN_DANA, headers=keyed("race"))
    assert afterwards.headers["Idempotent-Replayed"] == "true"
    assert afterwards.get_data() == first["response"].get_data()
    assert customer_names(admin, project) == ["Dana Scully"]


def _post_from_own_client(app: Flask, token: str, body: Any, key: str) -> Any:
    """A POST from a test client of the calling thread's own (test clients are not shared)."""
    return ApiClient(app.test_client(), token).post("/v1/customers", json=body, headers=keyed(key))


def test_racing_requests_with_one_key_create_one_customer(
    app: Flask, agent: ApiClient, admin: ApiClient, keys: IdempotencyKeys, project: Callable[[], int]
) -> None:
    racers = 4
    barrier = threading.Barrier(racers)
    responses: list[Any] = [None] * racers

    def race(index: int) -> None:
        barrier.wait(timeout=10)
        responses[index] = _post_from_own_client(app, agent.token, PLAIN_DANA, "one-dana")

    threads = [threading.Thread(target=race, args=(index,)) for index in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    ran = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    replayed = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" in r.headers]
    refused = [r for r in responses if r.status_code == 409]
    assert len(ran) == 1, [r.status_code for r in responses]
    assert len(ran) + len(replayed) + len(refused) == racers
    assert all(r.get_data() == ran[0].get_data() for r in replayed)
    assert all(r.json["type"] == "urn:conversa:problem:idempotency-key-in-progress" for r in refused)
    assert customer_names(admin, project) == ["Dana Scully"]


def test_a_key_left_in_progress_by_a_dead_worker_is_taken_over_after_the_lease(
    agent: ApiClient, keys: IdempotencyKeys
) -> None:
    claim_and_die(agent, keys, "orphan", FOX)
    clock: Clock = keys.clock  # type: ignore[assignment]

    assert_problem(agent.post("/v1/customers", json=FOX, headers=keyed("orphan")), 409, "idempotency-key-in-progress")
    assert_problem(agent.post("/v1/customers", json=DANA, headers=keyed("orphan")), 422, "idempotency-key-reused")
    clock.advance(seconds=59)
    assert_problem(agent.post("/v1/customers", json=FOX, headers=keyed("orphan")), 409, "idempotency-key-in-progress")
    clock.advance(seconds=2)
    taken_over = agent.post("/v1/customers", json=FOX, headers=keyed("orphan"))

    assert taken_over.status_code == 201, taken_over.json
    assert "Idempotent-Replayed" not in taken_over.headers


def claim_and_die(agent: ApiClient, keys: IdempotencyKeys, key: str, body: Any) -> None:
    """What a worker killed mid-request leaves behind: the key claimed for its request, never finished."""
    with agent.client.application.test_request_context("/v1/customers", method="POST", json=body):
        claimed = keys.claim(_agent_id(agent), key, fingerprint(), "/v1/customers")
    assert isinstance(claimed, Claim)


# ---- expiry -----------------------------------------------------------------------------------------


def test_a_key_is_kept_24_hours_then_forgotten(
    agent: ApiClient, keys: IdempotencyKeys, admin: ApiClient, project: Callable[[], int]
) -> None:
    clock: Clock = keys.clock  # type: ignore[assignment]
    agent.post("/v1/customers", json=DANA, headers=keyed("daily"))

    clock.advance(hours=23, minutes=59)
    assert agent.post("/v1/customers", json=DANA, headers=keyed("daily")).headers["Idempotent-Replayed"] == "true"

    clock.advance(minutes=1)
    after_a_day = agent.post("/v1/customers", json=FOX, headers=keyed("daily"))

    assert after_a_day.status_code == 201, after_a_day.json
    assert "Idempotent-Replayed" not in after_a_day.headers
    assert [row[1] for row in stored_rows(keys)] == ["daily"]
    assert FOX["name"].encode() in stored_rows(keys)[0][5]
    assert sorted(customer_names(admin, project)) == ["Dana Scully", "Fox Mulder"]


# ---- what is never kept -----------------------------------------------------------------------------


def test_token_answers_refuse_the_key_and_keep_nothing(
    admin: ApiClient, agent: ApiClient, application: CustomerRelations, keys: IdempotencyKeys
) -> None:
    before = application.head_position
    create = admin.post("/v1/agents", json={"name": "Eve", "role": "agent"}, headers=keyed("new-agent"))
    assert_problem(create, 400, "idempotency-key-not-accepted")
    agent_id = _agent_id(agent)
    rotate = admin.post(f"/v1/agents/{agent_id}/token", headers=keyed("rotate"))
    assert_problem(rotate, 400, "idempotency-key-not-accepted")
    assert application.head_position == before
    assert agent.get("/v1/customers").status_code == 200  # the token was not rotated

    issued = admin.post("/v1/agents", json={"name": "Eve", "role": "agent"})  # without the key
    assert issued.status_code == 201
    assert stored_rows(keys) == []


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "tab\there", "ümlaut"])
def test_a_malformed_key_is_a_400_problem_and_records_nothing(
    agent: ApiClient, application: CustomerRelations, keys: IdempotencyKeys, key: str
) -> None:
    before = application.head_position
    response = agent.post("/v1/customers", json=DANA, headers=keyed(key.encode().decode("latin-1")))
    assert_problem(response, 400, "bad-header")
    assert application.head_position == before
    assert stored_rows(keys) == []


def test_the_longest_key_is_accepted(agent: ApiClient, keys: IdempotencyKeys) -> None:
    assert agent.post("/v1/customers", json=DANA, headers=keyed("~" * 255)).status_code == 201
    assert len(stored_rows(keys)) == 1


def test_a_key_without_credentials_is_a_401(client: Any, admin_token: str, keys: IdempotencyKeys) -> None:
    response = client.post("/v1/customers", json=DANA, headers=keyed("k"))
    assert_problem(response, 401, "unauthenticated")
    assert stored_rows(keys) == []


def test_reads_ignore_the_key(agent: ApiClient, keys: IdempotencyKeys) -> None:
    dana = agent.post("/v1/customers", json=DANA).json
    for _ in range(2):
        read = agent.get(f"/v1/customers/{dana['id']}", headers=keyed("read"))
        assert read.status_code == 200
        assert "Idempotent-Replayed" not in read.headers
    assert stored_rows(keys) == []


# ---- forgetting -------------------------------------------------------------------------------------


def test_purge_mentioning_deletes_every_record_about_the_customers(agent: ApiClient, keys: IdempotencyKeys) -> None:
    dana = agent.post("/v1/customers", json=DANA, headers=keyed("create-dana")).json
    fox = agent.post("/v1/customers", json=FOX, headers=keyed("create-fox")).json
    agent.post(f"/v1/customers/{dana['id']}/nps", json={"score": 3}, headers=keyed("dana-nps"))
    agent.post(
        "/v1/conversations",
        json={"customer_id": dana["id"], "channel": "twitter", "message": {"text": "Where is my parcel?"}},
        headers=keyed("dana-conversation"),
    )
    assert len(stored_rows(keys)) == 4

    deleted = purge_mentioning(keys.database, [dana["id"]])

    assert deleted == 3
    remaining = stored_rows(keys)
    assert [row[1] for row in remaining] == ["create-fox"]
    assert fox["id"].encode() in remaining[0][5]
    assert all(b"Dana" not in row[5] and dana["id"] not in row[2] for row in remaining)
    assert purge_mentioning(keys.database, []) == 0


# ---- contract -----------------------------------------------------------------------------------------


@pytest.fixture
def documented(tmp_path: Path) -> dict[str, Any]:
    """The contract of an app that never opens its store."""
    return openapi_document(
        create_app(settings=Settings(database_url=f"sqlite:///{tmp_path / 'unused.sqlite'}", data_dir=tmp_path))
    )


def test_every_post_but_the_token_issuing_ones_documents_the_key(documented: dict[str, Any]) -> None:
    with_key, without_key = set(), set()
    for path, operations in documented["paths"].items():
        post = operations.get("post")
        if post is None:
            continue
        names = {parameter.get("name") for parameter in post.get("parameters", [])}
        (with_key if "Idempotency-Key" in names else without_key).add(path)
        if "Idempotency-Key" in names:
            assert {"409", "422"} <= set(post["responses"]), path
    assert without_key == {"/v1/agents", "/v1/agents/{agent_id}/token"}
    assert "/v1/customers" in with_key
    assert all(
        "Idempotency-Key" not in str(operation.get("parameters"))
        for operations in documented["paths"].values()
        for method, operation in operations.items()
        if method != "post" and isinstance(operation, dict)
    )
