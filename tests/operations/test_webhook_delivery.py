"""Webhook delivery against a real HTTP receiver on loopback: at least once, in order, signed, retried.

The worker is driven with an injected clock: instead of sleeping through a backoff, a test moves
the clock to the next retry. Nothing here asserts on how long anything took.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from domain.actor import SYSTEM
from domain.application import CustomerRelations
from projections.integration_events import TYPES
from service.settings import Settings, SettingsError
from service.webhook_delivery import DeliveryWorker, RetryPolicy, Transport, Urllib3Transport
from service.webhooks import WebhookStore
from tests.api.test_event_feed import every_kind_of_event
from tests.operations.test_serve import Server

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-" + "x" * 30 + "-end"
WAIT_SECONDS = 30  # an upper bound for a real process to do something, never a measured duration


def signature_checker() -> Callable[..., bool]:
    """The verification snippet of docs/integration.md, exactly as a receiver would copy it."""
    text = (ROOT / "docs" / "integration.md").read_text()
    snippet = re.search(r"```python\n(import hashlib.*?)```", text, re.S)
    assert snippet, "docs/integration.md lost its verification snippet"
    namespace: dict[str, Any] = {}
    exec(snippet.group(1), namespace)
    checker: Callable[..., bool] = namespace["verify_conversa_signature"]
    return checker


verify = signature_checker()


class Clock:
    """The worker's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, moment: datetime) -> None:
        self.now = max(self.now, moment)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # None: the connection was dropped without an answer
    at: datetime

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers as `decide` says: a status, or None to hang up."""

    def __init__(self, decide: Callable[[str], int | None], clock: Callable[[], datetime]) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = decide(self.path)
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body, status, clock()))
                if status is None:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receivers(clock: Clock) -> Iterator[Callable[[Callable[[str], int | None]], Receiver]]:
    started: list[Receiver] = []

    def start(decide: Callable[[str], int | None]) -> Receiver:
        receiver = Receiver(decide, clock)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.close()


@pytest.fixture
def store(app: Flask) -> WebhookStore:
    webhooks: WebhookStore = app.extensions["conversa"].webhooks()
    return webhooks


@pytest.fixture
def workers(app: Flask, clock: Clock) -> Iterator[Callable[..., DeliveryWorker]]:
    made: list[DeliveryWorker] = []

    def make(transport: Transport | None = None, **options: Any) -> DeliveryWorker:
        holder = app.extensions["conversa"]
        worker = DeliveryWorker(
            holder.integration_feed(), holder.webhooks(), transport or Urllib3Transport(), clock=clock, **options
        )
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.close()


def subscribe(store: WebhookStore, url: str, types: tuple[str, ...] = TYPES, position: int = 0) -> str:
    return store.create(url, types, SECRET, position, None, datetime.now(UTC)).id


def deliver_everything(worker: DeliveryWorker, clock: Clock, rounds: int = 10_000) -> None:
    """Run the worker until nothing is left to do, moving the clock to each retry instead of sleeping."""
    for _ in range(rounds):
        if worker.run_once():
            continue
        due = worker.next_due()
        if due is None:
            return
        clock.move_to(due)
    raise AssertionError("the deliveries did not settle")


def feed_items(app: Flask, types: tuple[str, ...] = TYPES) -> dict[int, bytes]:
    page = app.extensions["conversa"].integration_feed().read(0, 500, types)
    assert not page.has_more
    return {item.id: item.body for item in page.items}


def assert_signed(received: Received) -> None:
    header = received.headers["Conversa-Signature"]
    assert verify(received.body, header, SECRET, now=received.at.timestamp()), header
    assert not verify(received.body, header, SECRET[:-1] + "!", now=received.at.timestamp())
    assert not verify(received.body + b" ", header, SECRET, now=received.at.timestamp())
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["Conversa-Event-Id"] == str(received.event["id"])
    assert received.headers["Conversa-Event-Type"] == received.event["type"]


# ---- at least once, in order, signed ---------------------------------------------------------------


def test_a_receiver_that_fails_randomly_still_gets_every_event_exactly_once_after_deduplication(
    app: Flask,
    application: CustomerRelations,
    store: WebhookStore,
    workers: Callable[..., DeliveryWorker],
    receivers: Callable[..., Receiver],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chance, lock = random.Random(20260301), threading.Lock()

    def flaky(path: str) -> int | None:
        with lock:
            roll = chance.random()
        return 500 if roll < 0.15 else None if roll < 0.30 else 204

    receiver = receivers(flaky)
    everything = subscribe(store, f"{receiver.url}/all")
    messages = subscribe(store, f"{receiver.url}/messages", ("message.received",))
    every_kind_of_event(application)
    for n in range(20):
        application.register_customer(f"Customer {n}", [], None, None, actor=SYSTEM)
    caplog.set_level(logging.DEBUG, logger="service.webhook_delivery")

    deliver_everything(workers(concurrency=4), clock)

    for path, types in (("/all", TYPES), ("/messages", ("message.received",))):
        expected = feed_items(app, types)
        got = receiver.at(path)
        ids = [r.event["id"] for r in got]
        assert ids == sorted(ids)  # in order: the next event only after the previous was delivered
        delivered = [r.event["id"] for r in got if r.delivered]
        assert delivered == list(expected)  # every event, each delivered exactly once
        for r in got:
            assert r.body == expected[r.event["id"]]  # byte for byte the feed's item
            assert_signed(r)
    assert {r.status for r in receiver.at("/all")} == {500, None, 204}  # it did fail, both ways
    for subscription in (everything, messages):
        assert store.pending(subscription) is None
        log, _ = store.deliveries(subscription, 500, None)
        assert {d.status for d in log} == {"delivered"}
        assert sum(d.attempts for d in log) == len(receiver.at("/all" if subscription == everything else "/messages"))
    assert "failed (HTTP 500)" in caplog.text
    assert SECRET not in caplog.text and SECRET[-8:] not in caplog.text


def test_each_subscription_waits_only_for_its_own_receiver(
    application: CustomerRelations,
    store: WebhookStore,
    workers: Callable[..., DeliveryWorker],
    receivers: Callable[..., Receiver],
    clock: Clock,
) -> None:
    receiver = receivers(lambda path: 503 if path == "/down" else 200)
    down = subscribe(store, f"{receiver.url}/down")
    subscribe(store, f"{receiver.url}/up")
    for name in ("Ann", "Bob", "Cy"):
        application.register_customer(name, [], None, None, actor=SYSTEM)
    worker = workers()
    worker.run_once()
    assert [r.event["payload"]["name"] for r in receiver.at("/up")] == ["Ann", "Bob", "Cy"]
    assert [r.event["payload"]["name"] for r in receiver.at("/down")] == ["Ann"]  # Bob waits behind Ann
    pending = store.pending(down)
    assert pending is not None and pending.attempts == 1 and pending.status_code == 503


# ---- retries within 24 hours, then a pause ------------------------------------------------------------


def test_retries_back_off_for_24_hours_then_the_delivery_fails_and_the_subscription_pauses(
    application: CustomerRelations,
    store: WebhookStore,
    workers: Callable[..., DeliveryWorker],
    receivers: Callable[..., Receiver],
    clock: Clock,
) -> None:
    answers = {"status": 500}
    receiver = receivers(lambda path: answers["status"])
    subscription = subscribe(store, receiver.url)
    first = application.register_customer("Ann", [], None, None, actor=SYSTEM).position
    worker = workers(chance=random.Random(5))
    deliver_everything(worker, clock)

    attempts = [r.at for r in receiver.received]
    assert {r.event["payload"]["name"] for r in receiver.received} == {"Ann"}
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    for n, gap in enumerate(gaps[:7]):  # 30 s, 1, 2, 4, 8, 16, 32 min, each with jitter down to half
        nominal = timedelta(seconds=30 * 2**n)
        assert nominal / 2 <= gap <= nominal, (n, gap)
    assert all(timedelta(minutes=30) <= gap <= timedelta(hours=1) for gap in gaps[7:-1])  # capped at an hour
    assert gaps[-1] <= timedelta(hours=1)  # cut short by the end of the window
    assert attempts[-1] - attempts[0] == timedelta(hours=24)  # the last one at the end of the window
    assert 25 <= len(attempts) <= 50

    paused = store.get(subscription)
    assert paused.status == "paused"
    assert paused.paused_reason is not None and "HTTP 500" in paused.paused_reason
    log, _ = store.deliveries(subscription, 10, None)
    assert [(d.status, d.attempts, d.status_code, d.next_attempt_at) for d in log] == [
        ("failed", len(attempts), 500, None)
    ]

    # Paused: nothing more is sent, days later and whatever is recorded meanwhile.
    application.register_customer("Bob", [], None, None, actor=SYSTEM)
    clock.move_to(clock.now + timedelta(days=3))
    deliver_everything(worker, clock)
    assert len(receiver.received) == len(attempts)

    # Once the receiver is fixed, a replay from the failed event resumes in order.
    answers["status"] = 200
    assert first is not None
    store.replay(subscription, log[0].event_id, clock.now)
    deliver_everything(worker, clock)
    names = [r.event["payload"]["name"] for r in receiver.received[len(attempts) :]]
    assert names == ["Ann", "Bob"]
    assert store.get(subscription).status == "active"


def test_the_retry_policy_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy, chance = RetryPolicy(), random.Random(1)
    for attempts in range(1, 40):
        nominal = min(timedelta(seconds=30 * 2 ** (attempts - 1)), timedelta(hours=1))
        delays = [policy.delay(attempts, chance) for _ in range(50)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert len(set(delays)) > 1  # jittered, so receivers are not all hit at the same moment


# ---- replays, restarts, leases --------------------------------------------------------------------------


def test_a_replay_from_n_sends_the_events_from_n_again_in_order(
    application: CustomerRelations,
    store: WebhookStore,
    workers: Callable[..., DeliveryWorker],
    receivers: Callable[..., Receiver],
    clock: Clock,
) -> None:
    receiver = receivers(lambda path: 200)
    subscription = subscribe(store, receiver.url, ("customer.registered",))
    for name in ("Ann", "Bob", "Cy", "Dee"):
        application.register_customer(name, [], None, None, actor=SYSTEM)
    worker = workers()
    deliver_everything(worker, clock)
    ids = [r.event["id"] for r in receiver.received]
    assert len(ids) == 4
    store.replay(subscription, ids[2], clock.now)
    deliver_everything(worker, clock)
    assert [r.event["id"] for r in receiver.received] == ids + ids[2:]
    assert [r.event["payload"]["name"] for r in receiver.received[4:]] == ["Cy", "Dee"]


def test_a_worker_that_dies_after_the_answer_but_before_noting_it_makes_the_next_one_send_it_again(
    application: CustomerRelations,
    store: WebhookStore,
    workers: Callable[..., DeliveryWorker],
    receivers: Callable[..., Receiver],
    clock: Clock,
) -> None:
    class Died(Exception):
        pass

    class DiesAfterTheThirdAnswer:
        def __init__(self) -> None:
            self.inner, self.answers = Urllib3Transport(), 0

        def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
            status = self.inner.post(url, body, headers, timeout)
            self.answers += 1
            if self.answers == 3:
                raise Died
            return status

    receiver = receivers(lambda path: 200)
    subscribe(store, receiver.url, ("customer.registered",))
    for name in ("Ann", "Bob", "Cy", "Dee", "Eve"):
        application.register_customer(name, [], None, None, actor=SYSTEM)
    transport = DiesAfterTheThirdAnswer()
    with pytest.raises(Died):
        workers(transport, concurrency=1).run_once()
    transport.inner.close()
    deliver_everything(workers(), clock)  # a new worker, as after a restart: it resumes from the database
    names = [r.event["payload"]["name"] for r in receiver.received]
    assert names == ["Ann", "Bob", "Cy", "Cy", "Dee", "Eve"]  # at least once: Cy twice, nothing lost
    ids = [r.event["id"] for r in receiver.received]
    assert sorted(set(ids)) == sorted(ids[:3] + ids[4:])  # deduplicating on the id leaves each once


def test_a_subscription_leased_by_another_worker_waits_for_the_lease_to_run_out(
    application: CustomerRelations,
    store: WebhookStore,
    workers: Callable[..., DeliveryWorker],
    receivers: Callable[..., Receiver],
    clock: Clock,
) -> None:
    receiver = receivers(lambda path: 200)
    subscription = subscribe(store, receiver.url)
    application.register_customer("Ann", [], None, None, actor=SYSTEM)
    assert store.claim(subscription, "a worker that died", clock.now, clock.now + timedelta(minutes=1))
    worker = workers()
    assert worker.run_once() == 0 and receiver.received == []
    clock.move_to(clock.now + timedelta(minutes=1, seconds=1))
    deliver_everything(worker, clock)
    assert [r.event["payload"]["name"] for r in receiver.received] == ["Ann"]


def test_a_deleted_subscription_gets_nothing_more(
    application: CustomerRelations,
    store: WebhookStore,
    workers: Callable[..., DeliveryWorker],
    receivers: Callable[..., Receiver],
    clock: Clock,
) -> None:
    receiver = receivers(lambda path: 500)
    subscription = subscribe(store, receiver.url)
    application.register_customer("Ann", [], None, None, actor=SYSTEM)
    worker = workers()
    worker.run_once()
    assert len(receiver.received) == 1
    store.delete(subscription)
    clock.move_to(clock.now + timedelta(hours=2))
    deliver_everything(worker, clock)
    assert len(receiver.received) == 1


def test_a_forgotten_customers_retry_carries_forgotten_texts(
    application: CustomerRelations,
    store: WebhookStore,
    workers: Callable[..., DeliveryWorker],
    receivers: Callable[..., Receiver],
    clock: Clock,
) -> None:
    answers = iter([500])
    receiver = receivers(lambda path: next(answers, 200))
    subscribe(store, receiver.url, ("customer.registered",))
    customer = application.register_customer("Zebulon Q", [], "zq@example.com", None, actor=SYSTEM).aggregate.id
    worker = workers()
    worker.run_once()
    application.forget_customer(customer, "asked", actor=SYSTEM)
    deliver_everything(worker, clock)
    first, retry = receiver.received
    assert first.event["payload"]["name"] == "Zebulon Q"
    assert retry.event["payload"]["name"] == "[forgotten]" and retry.event["payload"]["email"] == "[forgotten]"
    assert retry.event["id"] == first.event["id"]


# ---- the real processes ------------------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {WAIT_SECONDS} s")
        time.sleep(0.05)


def test_conversa_deliver_sends_events_until_stopped(
    settings: Settings, application: CustomerRelations, store: WebhookStore, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(lambda path: 200)
    subscribe(store, receiver.url, ("customer.registered",), position=application.head_position)
    environment = {**os.environ, "CONVERSA_DATABASE_URL": settings.database_url, "CONVERSA_DATA_DIR": "unused"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "deliver"],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        application.register_customer("Ann", [], None, None, actor=SYSTEM)
        wait_until(lambda: len(receiver.received) >= 1, "the first delivery")
        application.register_customer("Bob", [], None, None, actor=SYSTEM)
        wait_until(lambda: len(receiver.received) >= 2, "the second delivery")  # follows the log
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=WAIT_SECONDS)
    assert worker.returncode == 0, output
    assert [r.event["payload"]["name"] for r in receiver.received] == ["Ann", "Bob"]
    assert SECRET not in output


def test_conversa_serve_runs_the_delivery_worker_beside_the_web_workers(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(lambda path: 204)
    server = Server(tmp_path / "data", {"CONVERSA_BOOTSTRAP_TOKEN": "cnv_webhook-test-token"})
    try:

        def call(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            request = urllib.request.Request(
                f"{server.base}{path}",
                data=json.dumps(body).encode(),
                method=method,
                headers={"Authorization": "Bearer cnv_webhook-test-token", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                answer: dict[str, Any] = json.load(response)
                return answer

        call("POST", "/v1/webhooks", {"url": receiver.url, "event_types": ["customer.registered"], "secret": SECRET})
        customer = call("POST", "/v1/customers", {"name": "Dana Scully"})
        wait_until(lambda: len(receiver.received) >= 1, "a delivery by the embedded worker")
    finally:
        output = server.stop()
    delivery = receiver.received[0]
    assert delivery.event["payload"]["customer_id"] == customer["id"]
    assert verify(delivery.body, delivery.headers["Conversa-Signature"], SECRET)  # real time, 5 min tolerance
    assert SECRET not in output


# ---- settings ---------------------------------------------------------------------------------------------


def test_the_delivery_settings_are_read_from_the_environment() -> None:
    defaults = Settings.from_env({})
    assert defaults.embedded_delivery is True and defaults.webhook_timeout_seconds == 10
    chosen = Settings.from_env({"CONVERSA_EMBEDDED_DELIVERY": "0", "CONVERSA_WEBHOOK_TIMEOUT_SECONDS": "3"})
    assert chosen.embedded_delivery is False and chosen.webhook_timeout_seconds == 3


@pytest.mark.parametrize("value", ["0", "-1", "ten", "2.5"])
def test_a_bad_webhook_timeout_stops_the_service_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="CONVERSA_WEBHOOK_TIMEOUT_SECONDS"):
        Settings.from_env({"CONVERSA_WEBHOOK_TIMEOUT_SECONDS": value})
