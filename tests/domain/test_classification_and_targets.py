"""Automatic classification, default priorities, sentiment and response targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.metadata import version

import pytest

from domain.classification import KINDS, PRIORITIES, classify, initial_priority
from domain.sentiment import analyse
from domain.targets import ResponseTargets

FIRST_INBOUND = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "compound", "kind"),
    [
        ("Worst service ever", -1.0, "complaint"),
        ("Worst service ever", -0.35, "complaint"),
        ("Why does this never work?", -0.35, "complaint"),
        ("Not great", -0.3499, "other"),
        ("Why does this never work?", -0.3499, "question"),
        ("Where is my parcel?", 0.0, "question"),
        ("I love you, can I marry your app?", 0.95, "question"),
        ("Lovely", 0.5, "praise"),
        ("Lovely", 1.0, "praise"),
        ("Nice", 0.4999, "other"),
        ("My address changed", 0.0, "other"),
        ("", 0.0, "other"),
    ],
)
def test_classification_follows_the_design_thresholds_and_order(text: str, compound: float, kind: str) -> None:
    assert classify(text, compound) == kind


def test_a_compound_of_exactly_minus_0_35_is_a_complaint() -> None:
    assert classify("meh", -0.35) == "complaint"


def test_a_compound_of_exactly_0_5_is_praise() -> None:
    assert classify("good stuff", 0.5) == "praise"


def test_automatic_classification_only_produces_kinds_that_exist() -> None:
    produced = {classify(text, compound) for text in ("a", "a?") for compound in (-1.0, -0.35, 0.0, 0.5, 1.0)}

    assert produced == {"complaint", "question", "praise", "other"}
    assert produced <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_complaints_start_high_and_every_other_kind_medium(kind: str) -> None:
    expected = "high" if kind == "complaint" else "medium"

    assert initial_priority(kind) == expected


def test_sentiment_is_stored_with_the_analyser_and_its_version() -> None:
    negative = analyse("This is terrible, awful, the worst service I have ever had.")
    positive = analyse("Wonderful, I love it, thank you so much!")

    assert negative["analyser"] == "vaderSentiment"
    assert negative["version"] == version("vaderSentiment")
    assert -1.0 <= negative["compound"] <= -0.35
    assert 0.5 <= positive["compound"] <= 1.0


def test_sentiment_is_deterministic() -> None:
    text = "The delivery was late but the driver was friendly."

    assert analyse(text) == analyse(text)


# ---- response targets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "due_after"),
    [
        ("urgent", timedelta(minutes=15)),
        ("high", timedelta(hours=1)),
        ("medium", timedelta(hours=4)),
        ("low", timedelta(hours=24)),
    ],
)
def test_a_first_response_is_due_after_the_default_target_for_its_priority(priority: str, due_after: timedelta) -> None:
    targets = ResponseTargets()

    assert targets.first_response_due(FIRST_INBOUND, priority) == FIRST_INBOUND + due_after


def test_every_priority_has_a_default_first_response_target() -> None:
    assert set(ResponseTargets().first_response) == set(PRIORITIES)


def test_a_resolution_is_due_three_days_after_the_first_inbound_message_by_default() -> None:
    assert ResponseTargets().resolution_due(FIRST_INBOUND) == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


def test_nothing_is_due_before_the_customer_wrote() -> None:
    targets = ResponseTargets()

    assert targets.first_response_due(None, "urgent") is None
    assert targets.resolution_due(None) is None


def test_response_targets_are_configurable() -> None:
    targets = ResponseTargets(
        first_response={
            "urgent": timedelta(minutes=5),
            "high": timedelta(minutes=30),
            "medium": timedelta(hours=2),
            "low": timedelta(hours=8),
        },
        resolution=timedelta(days=1),
    )

    assert targets.first_response_due(FIRST_INBOUND, "urgent") == FIRST_INBOUND + timedelta(minutes=5)
    assert targets.first_response_due(FIRST_INBOUND, "low") == FIRST_INBOUND + timedelta(hours=8)
    assert targets.resolution_due(FIRST_INBOUND) == FIRST_INBOUND + timedelta(days=1)


def test_default_targets_are_not_shared_between_instances() -> None:
    one, other = ResponseTargets(), ResponseTargets()
    one.first_response["urgent"] = timedelta(minutes=1)

    assert other.first_response["urgent"] == timedelta(minutes=15)
