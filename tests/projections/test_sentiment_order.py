"""Sentiment is smoothed in the order messages happened, whatever order they were recorded in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.actor import Actor
from domain.application import CustomerRelations, InboundMessage
from projections.projector import Projector
from projections.queries import Views
from service.runtime import build_application, build_projector
from service.settings import Settings

DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NEUTRAL = "I have a question about my account"  # VADER compound 0.0
GLOWING = "Thank you so much, this is wonderful and amazing!"
FURIOUS = "This is terrible, awful service, I hate it!"


class World:
    """The application, its projector and views, and shortcuts for the stories the tests tell."""

    def __init__(self, application: CustomerRelations, projector: Projector) -> None:
        self.app = application
        self.projector = projector
        self.views = Views(projector.database)
        token = application.bootstrap_admin()
        assert token
        admin = application.authenticate(token)
        self.actor = Actor("agent", admin.id, admin.name)

    def customer(self, name: str, channel: str = "twitter") -> UUID:
        handle = f"@{name.lower()}"
        return self.app.register_customer(
            name, [{"channel": channel, "handle": handle}], None, None, self.actor
        ).aggregate.id

    def conversation(self, customer: UUID, text: str, at: datetime = DAY) -> UUID:
        message = InboundMessage(text, None, at)
        return self.app.start_conversation(
            customer, "twitter", None, "public", self.actor, message=message
        ).aggregate.id

    def compound(self, conversation: UUID, index: int = 0) -> float:
        return float(self.app.get_conversation(conversation).messages[index]["sentiment"]["compound"])

    def settle(self) -> None:
        self.projector.catch_up()

    def profile(self, customer: UUID) -> dict[str, Any]:
        self.settle()
        profile = self.views.profile(str(customer))
        assert profile is not None
        return profile


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    application = build_application(settings)
    projector = build_projector(settings, application)
    yield World(application, projector)
    projector.database.close()
    application.close()


def test_sentiment_is_smoothed_in_the_order_messages_happened_not_arrived(world: World) -> None:
    customer = world.customer("Dana")
    later = world.conversation(customer, FURIOUS, DAY + timedelta(hours=2))
    earlier = world.conversation(customer, GLOWING, DAY)
    first, second = 50 * (world.compound(earlier) + 1), 50 * (world.compound(later) + 1)
    components = world.profile(customer)["happiness"]["components"]
    assert components["sentiment"] == pytest.approx(first + 0.3 * (second - first))
