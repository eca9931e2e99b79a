"""Fixtures for the domain tests: an in-memory application with a clock the test moves by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.actor import Actor
from domain.application import CustomerRelations

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """A clock that stands still until the test moves it, so that every time in a test is known."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def crm(clock: Clock) -> CustomerRelations:
    """The write side on the plain-Python (in-memory) store."""
    return CustomerRelations(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)


@pytest.fixture
def admin_actor(crm: CustomerRelations) -> Actor:
    """The bootstrapped admin, as the actor of commands."""
    token = crm.bootstrap_admin()
    assert token is not None
    admin = crm.authenticate(token)
    return Actor(kind="agent", id=admin.id, name=admin.name)
