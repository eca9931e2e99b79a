"""The views give DESIGN.md's numbers: scores, rankings, lists and KPIs, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
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


def test_the_issues_example_nps_8_a_review_of_5_and_two_open_complaints_clamp_advocacy_to_0(world: World) -> None:
    customer = world.customer("Dana")
    world.app.give_nps(customer, 8, None)
    world.app.submit_contribution(customer, "review", "Good", "Solid", 5, None, world.actor)
    world.conversation(customer, FURIOUS)
    world.conversation(customer, FURIOUS)
    advocacy = world.profile(customer)["advocacy"]
    assert advocacy["score"] == 0  # 10 + 10 − 40 = −20, clamped
    assert advocacy["reasons"] == [
        "passive: latest NPS 8 (+10)",
        "contributions: review rated 5 (+10)",
        "2 open complaint(s) (-40)",
    ]
    assert advocacy["is_advocate"] is False


def test_happiness_is_the_weighted_mean_of_the_components_present(world: World) -> None:
    customer = world.customer("Dana")
    conversation = world.conversation(customer, GLOWING)
    world.app.send_reply(conversation, "Glad to help", world.actor, occurred_at=DAY + timedelta(minutes=5))
    world.app.resolve_conversation(conversation, world.actor)
    world.app.rate_satisfaction(conversation, 4, None)
    world.app.give_nps(customer, 7, None)
    sentiment = 50 * (world.compound(conversation) + 1)
    happiness = world.profile(customer)["happiness"]
    assert happiness["components"] == pytest.approx(
        {"sentiment": sentiment, "csat": 75.0, "nps": 70.0, "service": 100.0}
    )
    expected = (0.30 * sentiment + 0.25 * 75 + 0.25 * 70 + 0.20 * 100) / 1.0
    assert happiness["score"] == int(expected + 0.5)
    assert happiness["band"] == ("delighted" if happiness["score"] >= 80 else "happy")


def test_sentiment_is_smoothed_in_the_order_messages_happened_not_arrived(world: World) -> None:
    customer = world.customer("Dana")
    later = world.conversation(customer, FURIOUS, DAY + timedelta(hours=2))
    earlier = world.conversation(customer, GLOWING, DAY)
    first, second = 50 * (world.compound(earlier) + 1), 50 * (world.compound(later) + 1)
    components = world.profile(customer)["happiness"]["components"]
    assert components["sentiment"] == pytest.approx(first + 0.3 * (second - first))


def test_a_late_first_reply_and_an_open_complaint_lower_the_service_component(world: World) -> None:
    customer = world.customer("Dana")
    complaint = world.conversation(customer, FURIOUS)  # high priority: reply due within 1 h
    world.app.send_reply(complaint, "Sorry", world.actor, occurred_at=DAY + timedelta(hours=2))
    profile = world.profile(customer)
    assert profile["happiness"]["components"]["service"] == 100 - 30 - 10
    assert profile["open_complaints"] == 1
    world.app.resolve_conversation(complaint, world.actor)
    assert world.profile(customer)["happiness"]["components"]["service"] == 100 - 10


def test_nobody_is_happy_or_unhappy_without_a_signal(world: World) -> None:
    customer = world.customer("Dana")
    profile = world.profile(customer)
    assert profile["happiness"] == {
        "score": None,
        "band": None,
        "components": {"sentiment": None, "csat": None, "nps": None, "service": None},
    }


def make_advocate(world: World, name: str, nps: int = 10, channel: str = "twitter", consent: bool = True) -> UUID:
    customer = world.customer(name, channel)
    world.app.give_nps(customer, nps, None)
    for title in ("Dark mode", "Offline mode"):
        idea = world.app.submit_contribution(customer, "idea", title, "Please", None, None, world.actor).aggregate
        world.app.change_contribution_status(idea.id, "under_review", None, world.actor)
        world.app.change_contribution_status(idea.id, "accepted", None, world.actor)
    if consent:
        world.app.set_marketing_consent(customer, True, "form", world.actor)
    return customer


def test_advocates_are_ranked_by_advocacy_and_filtered_by_score_channel_and_consent(world: World) -> None:
    top = make_advocate(world, "Top", nps=10)  # 40 + 20 = 60
    second = make_advocate(world, "Second", nps=9, channel="email", consent=False)  # 40 + 20 = 60, no consent
    make_advocate(world, "Passive", nps=8)  # 10 + 20 = 30: not an advocate
    world.settle()
    everyone = world.views.advocates(None, None, False, 10, None).items
    assert {row["customer_id"] for row in everyone} == {str(top), str(second)}
    assert all(row["advocacy"] == 60 for row in everyone)
    assert [row["customer_id"] for row in world.views.advocates(None, None, True, 10, None).items] == [str(top)]
    assert [row["customer_id"] for row in world.views.advocates(None, "email", False, 10, None).items] == [str(second)]
    assert world.views.advocates(61, None, False, 10, None).items == []


def test_forgotten_and_merged_customers_are_never_advocates(world: World) -> None:
    forgotten = make_advocate(world, "Forgotten")
    merged = make_advocate(world, "Merged")
    survivor = world.customer("Survivor")
    world.app.forget_customer(forgotten, None, world.actor)
    world.app.merge_customers(survivor, merged, world.actor)
    world.settle()
    assert world.views.advocates(None, None, False, 10, None).items == []
    names = [row["name"] for row in world.views.customers(None, None, True, 10, None).items]
    assert "[forgotten]" in names and "Forgotten" not in names
    assert [row["name"] for row in world.views.customers(None, None, False, 10, None).items] == ["Survivor"]


def test_the_inbox_shows_newest_activity_first_and_pages_through_every_row_once(world: World) -> None:
    customer = world.customer("Dana")
    conversations = [world.conversation(customer, NEUTRAL, DAY + timedelta(minutes=n)) for n in range(7)]
    world.settle()
    now = DAY + timedelta(days=1)
    seen, cursor = [], None
    while True:
        page = world.views.inbox({}, now, 3, cursor)
        seen += [row["id"] for row in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [str(c) for c in reversed(conversations)]


def test_the_inbox_filters_by_each_field(world: World) -> None:
    dana, fox = world.customer("Dana"), world.customer("Fox")
    complaint = world.conversation(dana, FURIOUS)
    question = world.conversation(fox, "Where is my parcel?")
    world.app.assign_conversation(question, world.actor.id, world.actor)
    world.app.resolve_conversation(question, world.actor)
    world.settle()
    now = DAY + timedelta(days=1)

    def ids(**filters: Any) -> list[str]:
        return [row["id"] for row in world.views.inbox(filters, now, 10, None).items]

    assert ids(kind="complaint") == ids(priority="high") == ids(status="open") == [str(complaint)]
    assert ids(customer_id=str(fox)) == ids(assignee=str(world.actor.id)) == ids(status="resolved") == [str(question)]
    assert ids(channel="email") == []


def test_unresolved_complaints_come_by_next_deadline_with_breaches_at_the_time_of_the_read(world: World) -> None:
    dana = world.customer("Dana")
    old = world.conversation(dana, FURIOUS, DAY)
    new = world.conversation(dana, FURIOUS, DAY + timedelta(hours=3))
    resolved = world.conversation(dana, FURIOUS, DAY)
    world.app.resolve_conversation(resolved, world.actor)
    world.settle()
    at_two = DAY + timedelta(hours=2)  # the old one's 1 h target has passed, the new one's not
    rows = world.views.unresolved_complaints(None, None, at_two, 10, None).items
    assert [row["conversation_id"] for row in rows] == [str(old), str(new)]
    assert [row["first_response_breached"] for row in rows] == [True, False]
    assert rows[0]["age_seconds"] == 7200
    breached = world.views.unresolved_complaints(None, True, at_two, 10, None).items
    assert [row["conversation_id"] for row in breached] == [str(old)]
    within = world.views.unresolved_complaints(None, False, at_two, 10, None).items
    assert [row["conversation_id"] for row in within] == [str(new)]


def test_the_contributions_board_sorts_by_endorsements_or_by_newest(world: World) -> None:
    author, fans = world.customer("Author"), [world.customer(f"Fan{n}") for n in range(2)]
    older = world.app.submit_contribution(author, "idea", "Older", "x", None, None, world.actor, DAY).aggregate.id
    newer = world.app.submit_contribution(
        author, "answer", "Newer", "x", None, None, world.actor, DAY + timedelta(days=1)
    ).aggregate.id
    for fan in fans:
        world.app.endorse_contribution(older, fan, world.actor)
    world.settle()
    assert [r["id"] for r in world.views.contributions(None, None, "top", 10, None).items] == [str(older), str(newer)]
    assert [r["id"] for r in world.views.contributions(None, None, "new", 10, None).items] == [str(newer), str(older)]
    assert [r["id"] for r in world.views.contributions("answer", None, "top", 10, None).items] == [str(newer)]
    assert world.views.contributions(None, "accepted", "top", 10, None).items == []


def test_kpis_per_day_and_for_the_range(world: World) -> None:
    dana, fox = world.customer("Dana"), world.customer("Fox")
    furious = world.conversation(dana, FURIOUS, DAY)
    asking = world.conversation(fox, NEUTRAL, DAY + timedelta(hours=1))
    world.app.send_reply(furious, "Sorry", world.actor, occurred_at=DAY + timedelta(minutes=10))
    world.app.send_reply(asking, "Sure", world.actor, occurred_at=DAY + timedelta(hours=1, minutes=30))
    world.conversation(fox, NEUTRAL, DAY + timedelta(days=1))
    for customer, score in ((dana, 10), (fox, 3)):
        world.app.give_nps(customer, score, None, DAY)
    world.app.resolve_conversation(furious, world.actor)
    world.app.rate_satisfaction(furious, 5, None)
    world.settle()
    kpis = world.views.kpis(date(2026, 3, 2), date(2026, 3, 3))
    first, second = kpis["series"]
    assert (first["date"], first["inbound_volume"], first["negative_share"]) == ("2026-03-02", 2, 0.5)
    assert first["nps"] == 0.0  # one promoter, one detractor
    assert first["median_first_response_seconds"] == (600 + 1800) / 2
    assert (second["inbound_volume"], second["negative_share"], second["nps"]) == (1, 0.0, None)
    total = kpis["total"]
    assert (total["inbound_volume"], total["nps_responses"]) == (3, 2)
    assert total["negative_share"] == pytest.approx(1 / 3)
    assert total["mean_happiness"] is not None
