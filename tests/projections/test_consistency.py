"""The views built live, page by page between writes, equal the views rebuilt from position 0.

And a page is applied exactly once: a failure in the middle of a page leaves nothing of it, and
two projectors racing on the same views never apply a page twice.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.actor import Actor
from domain.application import CustomerRelations, InboundMessage
from domain.errors import DomainError
from domain.ingest import ChannelMessage
from projections.database import ViewDatabase
from projections.page import Page
from projections.projector import Projector
from projections.schema import TABLE_NAMES, Tables, create_generation, live_generation, tracked_position
from service.runtime import build_application, build_projector
from service.settings import Settings
from tests.domain.test_ingest import THREADS

BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TEXTS = (
    "Thank you so much, this is wonderful!",
    "My order is broken and nobody answers. Terrible!",
    "Where is my parcel?",
    "ok",
    "I love it, best support ever :)",
    "This is the worst, I am furious and want a refund",
)


@pytest.fixture
def store(settings: Settings) -> Iterator[tuple[CustomerRelations, Projector]]:
    application = build_application(settings)
    projector = build_projector(settings, application)
    yield application, projector
    projector.database.close()
    application.close()


def snapshot(database: ViewDatabase, generation: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view table, with JSON states in a canonical form."""
    tables = Tables(generation)

    def canonical(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{"):
            return json.dumps(json.loads(value), sort_keys=True)
        return value

    with database.transaction(write=False) as tx:
        return {
            name: sorted(
                (tuple(canonical(v) for v in row) for row in tx.query(f"SELECT * FROM {tables.prefix}{name}")),
                key=repr,
            )
            for name in TABLE_NAMES
        }


def live_snapshot(projector: Projector) -> dict[str, list[tuple[Any, ...]]]:
    return snapshot(projector.database, projector.live_generation())


class Commands:
    """Random but valid-looking use of the application; refused commands are part of the game."""

    def __init__(self, application: CustomerRelations) -> None:
        self.app = application
        token = application.bootstrap_admin()
        admin = application.authenticate(token) if token else application.list_agents()[0]
        self.actor = Actor("agent", admin.id, admin.name)
        self.admin_id = admin.id
        self.customers: list[Any] = []
        self.conversations: list[Any] = []
        self.contributions: list[Any] = []

    def run(self, data: st.DataObject) -> None:
        command = data.draw(st.sampled_from(self.available()))
        with contextlib.suppress(DomainError):  # refused commands are part of the game
            command(data)

    def available(self) -> list[Any]:
        # Hypothesis leans towards the first choices: the commands that make stories come first.
        commands: list[Any] = []
        if self.conversations:
            commands += [self.message, self.reply, self.resolve, self.csat, self.reopen, self.classify, self.assign]
            commands += [self.retract]
        if self.customers:
            commands += [self.start, self.nps, self.submit, self.consent, self.tag, self.forget]
        if self.contributions:
            commands += [self.status, self.convert]
        if len(self.customers) > 1:
            commands += [self.merge, self.endorse]
        return [*commands, self.ingest, self.register]

    def _when(self, data: st.DataObject) -> datetime:
        return BASE + timedelta(minutes=data.draw(st.integers(0, 4 * 24 * 60)))

    def _pick(self, data: st.DataObject, items: list[Any]) -> Any:
        return items[data.draw(st.integers(0, len(items) - 1))]

    def register(self, data: st.DataObject | None = None) -> None:
        # Examples share one store: handles must be unique across them.
        handle = f"@c{uuid4().hex[:10]}"
        written = self.app.register_customer(
            f"Customer {handle}", [{"channel": "twitter", "handle": handle}], None, "en", self.actor
        )
        self.customers.append(written.aggregate.id)

    def nps(self, data: st.DataObject) -> None:
        self.app.give_nps(self._pick(data, self.customers), data.draw(st.integers(0, 10)), None, self._when(data))

    def start(self, data: st.DataObject) -> None:
        message = InboundMessage(data.draw(st.sampled_from(TEXTS)), None, self._when(data))
        written = self.app.start_conversation(
            self._pick(data, self.customers), "twitter", None, "public", self.actor, message=message
        )
        self.conversations.append(written.aggregate.id)

    def message(self, data: st.DataObject) -> None:
        text = data.draw(st.sampled_from(TEXTS))
        self.app.receive_message(self._pick(data, self.conversations), InboundMessage(text, None, self._when(data)))

    def reply(self, data: st.DataObject) -> None:
        self.app.send_reply(self._pick(data, self.conversations), "On it.", self.actor, occurred_at=self._when(data))

    def resolve(self, data: st.DataObject) -> None:
        self.app.resolve_conversation(self._pick(data, self.conversations), self.actor)

    def reopen(self, data: st.DataObject) -> None:
        self.app.reopen_conversation(self._pick(data, self.conversations), self.actor)

    def csat(self, data: st.DataObject) -> None:
        self.app.rate_satisfaction(self._pick(data, self.conversations), data.draw(st.integers(1, 5)), None)

    def classify(self, data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(["complaint", "question", "praise", "other"]))
        self.app.classify_conversation(self._pick(data, self.conversations), kind, self.actor)

    def assign(self, data: st.DataObject) -> None:
        agent = self.admin_id if data.draw(st.booleans()) else None
        self.app.assign_conversation(self._pick(data, self.conversations), agent, self.actor)

    def retract(self, data: st.DataObject) -> None:
        conversation = self.app.get_conversation(self._pick(data, self.conversations))
        if conversation.messages:
            self.app.retract_message(conversation.id, conversation.messages[-1]["id"], "wrong thread", self.actor)

    def consent(self, data: st.DataObject) -> None:
        self.app.set_marketing_consent(self._pick(data, self.customers), data.draw(st.booleans()), None, self.actor)

    def tag(self, data: st.DataObject) -> None:
        customer, tag = self._pick(data, self.customers), data.draw(st.sampled_from(["vip", "press"]))
        if data.draw(st.booleans()):
            self.app.tag_customer(customer, tag, self.actor)
        else:
            self.app.untag_customer(customer, tag, self.actor)

    def submit(self, data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(["idea", "review", "answer", "referral", "content"]))
        written = self.app.submit_contribution(
            self._pick(data, self.customers),
            kind,
            "A title",
            "A body",
            data.draw(st.integers(1, 5)) if kind == "review" else None,
            "@friend" if kind == "referral" else None,
            self.actor,
            self._when(data),
        )
        self.contributions.append(written.aggregate.id)

    def endorse(self, data: st.DataObject) -> None:
        if self.contributions:
            self.app.endorse_contribution(
                self._pick(data, self.contributions), self._pick(data, self.customers), self.actor
            )

    def status(self, data: st.DataObject) -> None:
        status = data.draw(st.sampled_from(["under_review", "accepted", "implemented", "declined"]))
        self.app.change_contribution_status(self._pick(data, self.contributions), status, None, self.actor)

    def convert(self, data: st.DataObject) -> None:
        self.app.convert_referral(self._pick(data, self.contributions), self._pick(data, self.customers), self.actor)

    def merge(self, data: st.DataObject) -> None:
        self.app.merge_customers(self._pick(data, self.customers), self._pick(data, self.customers), self.actor)

    def ingest(self, data: st.DataObject) -> None:
        """The sample threads, arriving shuffled in two batches (late messages merge threads)."""
        run = uuid4().hex[:8]
        order = data.draw(st.permutations(range(len(THREADS))))
        cut = data.draw(st.integers(0, len(THREADS)))
        messages = [_in_run(THREADS[i], run) for i in order]
        for batch in (messages[:cut], messages[cut:]):
            if batch:
                outcomes = self.app.ingest_messages(batch, self.actor).outcomes
                self.conversations += [o.conversation_id for o in outcomes if o.conversation_id is not None]

    def forget(self, data: st.DataObject) -> None:
        if data.draw(st.integers(0, 5)) == 0:  # rarely: it ends a customer's story
            self.app.forget_customer(self._pick(data, self.customers), None, self.actor)


def _in_run(message: ChannelMessage, run: str) -> ChannelMessage:
    """The message with ids and customers' handles of their own (examples share one store)."""
    handle = message.author_handle if message.direction == "outbound" else f"{message.author_handle}-{run}"
    reply_to = f"{run}-{message.in_reply_to}" if message.in_reply_to else None
    return replace(message, external_id=f"{run}-{message.external_id}", in_reply_to=reply_to, author_handle=handle)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_views_built_live_between_writes_equal_views_rebuilt_from_scratch(
    store: tuple[CustomerRelations, Projector], data: st.DataObject
) -> None:
    application, projector = store
    commands = Commands(application)
    generation = projector.live_generation()
    commands.register()
    for _ in range(data.draw(st.integers(5, 40))):
        commands.run(data)
        if data.draw(st.booleans()):
            projector.project_page(generation, limit=data.draw(st.integers(1, 9)))
    projector.catch_up()
    live = live_snapshot(projector)
    projector.rebuild()
    assert live_snapshot(projector) == live
    assert projector.position() == application.head_position


def make_history(application: CustomerRelations) -> None:
    commands = Commands(application)
    for number in range(4):
        commands.register()
        customer = commands.customers[-1]
        for day in range(3):
            message = InboundMessage(TEXTS[(number + day) % len(TEXTS)], None, BASE + timedelta(days=day, hours=number))
            conversation = application.start_conversation(
                customer, "twitter", None, "public", commands.actor, message=message
            ).aggregate
            application.send_reply(conversation.id, "Thanks", commands.actor, occurred_at=message.occurred_at)
            application.resolve_conversation(conversation.id, commands.actor)
            application.rate_satisfaction(conversation.id, 1 + (number + day) % 5, None)
        application.give_nps(customer, 3 * number, None, BASE)


def test_a_failure_in_the_middle_of_a_page_leaves_nothing_of_it_and_the_restart_loses_nothing(
    store: tuple[CustomerRelations, Projector], monkeypatch: pytest.MonkeyPatch
) -> None:
    application, projector = store
    make_history(application)
    generation = projector.live_generation()
    assert projector.project_page(generation, limit=10) == 10
    before = live_snapshot(projector)

    write_customers = Page._write_customers

    def crash_after_writing_conversations(page: Page) -> None:
        raise RuntimeError("the process died in the middle of a page")

    monkeypatch.setattr(Page, "_write_customers", crash_after_writing_conversations)
    with pytest.raises(RuntimeError):
        projector.project_page(generation, limit=10)
    assert live_snapshot(projector) == before
    assert projector.position() == 10

    monkeypatch.setattr(Page, "_write_customers", write_customers)
    projector.catch_up()
    after_restart = live_snapshot(projector)
    projector.rebuild()
    assert live_snapshot(projector) == after_restart


def test_a_page_covers_exactly_the_events_up_to_its_tracking_position(
    store: tuple[CustomerRelations, Projector],
) -> None:
    application, projector = store
    make_history(application)
    projector.catch_up(limit=7)
    with projector.database.transaction() as tx:
        create_generation(tx, 99)
    reference = Projector(application, projector.database, page_size=1000)
    while reference._tracked(99) < projector.position():
        reference.project_page(99, limit=projector.position() - reference._tracked(99))
    assert snapshot(projector.database, 99) == live_snapshot(projector)


def test_two_projectors_racing_on_the_same_views_apply_each_event_once(
    settings: Settings, store: tuple[CustomerRelations, Projector]
) -> None:
    application, projector = store
    make_history(application)
    generation = projector.live_generation()
    rival = build_projector(settings, application)
    errors: list[BaseException] = []

    def run(runner: Projector) -> None:
        try:
            runner.catch_up(generation, limit=3)
        except BaseException as error:  # surfaced below: a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=run, args=(runner,)) for runner in (projector, rival)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    rival.database.close()
    assert not errors
    raced = live_snapshot(projector)
    projector.rebuild()
    assert live_snapshot(projector) == raced


def test_readers_keep_the_old_views_until_a_rebuild_has_caught_up(
    store: tuple[CustomerRelations, Projector],
) -> None:
    application, projector = store
    make_history(application)
    projector.catch_up()
    old = projector.live_generation()
    seen_during_rebuild: list[int] = []

    def watch(progress: Any) -> None:
        with projector.database.transaction(write=False) as tx:
            seen_during_rebuild.append(live_generation(tx) or 0)

    new = projector.rebuild(watch)
    assert seen_during_rebuild and set(seen_during_rebuild) == {old}
    assert projector.live_generation() == new != old
    with projector.database.transaction(write=False) as tx:
        assert tracked_position(tx, new) == application.head_position


def test_a_rebuild_written_in_several_batches_equals_the_live_views(
    store: tuple[CustomerRelations, Projector], monkeypatch: pytest.MonkeyPatch
) -> None:
    application, projector = store
    make_history(application)
    projector.catch_up(limit=5)
    live = live_snapshot(projector)
    # Small pages and batches, so that this rebuild writes its rows in many transactions.
    monkeypatch.setattr("projections.projector.REBUILD_PAGE_SIZE", 7)
    monkeypatch.setattr("projections.projector.REBUILD_WRITE_EVENTS", 20)
    projector.rebuild()
    assert live_snapshot(projector) == live
    assert projector.position() == application.head_position
