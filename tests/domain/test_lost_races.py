"""A command that loses a race for an aggregate is run again on the new state, a few times at most."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from domain.actor import Actor
from domain.application import CustomerRelations
from domain.errors import (
    ConcurrentChangeError,
)

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class RacedOnce(CustomerRelations):
    """Lets a competing writer save the same customer just before this application's next saves."""

    def __init__(self, races: int) -> None:
        super().__init__(env=POPO, clock=lambda: NOW)
        self.races = races
        self.racing_customer: UUID | None = None

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        if self.racing_customer is not None and self.races > 0:
            self.races -= 1
            rival = self.repository.get(self.racing_customer)
            rival.tag(f"rival-{self.races}", NOW, {"kind": "system", "id": None, "name": "rival"})
            super().save(rival)
        return super().save(*objs, **kwargs)


def test_a_command_that_loses_a_race_is_run_again_on_the_new_state() -> None:
    relations = RacedOnce(races=1)
    actor = Actor("system", None, "test")
    customer = relations.register_customer("Dana", [], None, None, actor).aggregate.id
    relations.racing_customer = customer
    written = relations.tag_customer(customer, "vip", actor)
    assert written.aggregate.tags == ["rival-0", "vip"]


def test_a_command_that_keeps_losing_races_answers_a_concurrency_conflict() -> None:
    relations = RacedOnce(races=10)
    actor = Actor("system", None, "test")
    customer = relations.register_customer("Dana", [], None, None, actor).aggregate.id
    relations.racing_customer = customer
    with pytest.raises(ConcurrentChangeError):
        relations.tag_customer(customer, "vip", actor)
