"""The Contribution aggregate on its own: field rules, endorsements, status and referral conversion."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.contribution import CONTRIBUTION_KINDS, CONTRIBUTION_STATUSES, TRANSITIONS, Contribution
from domain.errors import ConflictError, DuplicateEndorsementError, IllegalTransitionError, RuleViolationError

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
AGENT: dict[str, Any] = {"kind": "agent", "id": str(uuid4()), "name": "Ann Agent"}

# The lifecycle as DESIGN.md tells it: submitted → under_review → accepted → implemented, or declined
# (declining is possible until a contribution is accepted).
EXPECTED_TRANSITIONS = {
    ("submitted", "under_review"),
    ("submitted", "declined"),
    ("under_review", "accepted"),
    ("under_review", "declined"),
    ("accepted", "implemented"),
}

# How to reach each status from "submitted".
PATHS: dict[str, list[str]] = {
    "submitted": [],
    "under_review": ["under_review"],
    "accepted": ["under_review", "accepted"],
    "implemented": ["under_review", "accepted", "implemented"],
    "declined": ["declined"],
}


def event_names(aggregate: Any) -> list[str]:
    return [type(e).__qualname__ for e in aggregate.collect_events()]


def contribution(
    kind: str = "idea",
    author: UUID | None = None,
    rating: int | None = None,
    referred_handle: str | None = None,
) -> Contribution:
    """A submitted contribution whose Submitted event was already collected (as if saved)."""
    submitted = Contribution.submit(
        author or uuid4(), kind, "Dark mode", "Please add a dark mode", rating, referred_handle, NOW, AGENT
    )
    submitted.collect_events()
    return submitted


def contribution_in(status: str) -> Contribution:
    submitted = contribution()
    for step in PATHS[status]:
        submitted.change_status(step, None, NOW, AGENT)
    submitted.collect_events()
    return submitted


def test_submitting_records_the_contribution_as_submitted() -> None:
    author = uuid4()
    submitted = Contribution.submit(author, "review", "Great app", "Five stars", 5, None, NOW, AGENT)

    assert event_names(submitted) == ["Contribution.Submitted"]
    assert submitted.customer_id == author
    assert (submitted.kind, submitted.title, submitted.rating) == ("review", "Great app", 5)
    assert submitted.status == "submitted"
    assert submitted.endorsements == []
    assert submitted.converted_customer_id is None


# ---- fields -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "rating", "referred_handle"),
    [
        ("review", 1, None),
        ("review", 5, None),
        ("referral", None, "@friend"),
        *[(kind, None, None) for kind in CONTRIBUTION_KINDS if kind not in ("review", "referral")],
    ],
)
def test_fields_that_fit_the_kind_are_accepted(kind: str, rating: int | None, referred_handle: str | None) -> None:
    Contribution.check_fields(kind, rating, referred_handle)


@pytest.mark.parametrize(
    ("kind", "rating", "referred_handle", "complaint"),
    [
        ("review", None, None, "needs a rating"),
        ("review", 0, None, "needs a rating"),
        ("review", 6, None, "needs a rating"),
        ("idea", 4, None, "only a review"),
        ("referral", 4, "@friend", "only a review"),
        ("referral", None, None, "referred handle"),
        ("referral", None, "", "referred handle"),
        ("idea", None, "@friend", "only a referral"),
        ("review", 5, "@friend", "only a referral"),
    ],
)
def test_fields_that_do_not_fit_the_kind_are_refused(
    kind: str, rating: int | None, referred_handle: str | None, complaint: str
) -> None:
    with pytest.raises(RuleViolationError, match=complaint):
        Contribution.check_fields(kind, rating, referred_handle)


# ---- endorsements -------------------------------------------------------------------------------


def test_other_customers_endorse_a_contribution_once_each() -> None:
    submitted = contribution()
    first, second = uuid4(), uuid4()

    submitted.endorse(first, NOW, AGENT)
    submitted.endorse(second, LATER, AGENT)

    assert event_names(submitted) == ["Contribution.Endorsed", "Contribution.Endorsed"]
    assert submitted.endorsements == [
        {"customer_id": first, "occurred_at": NOW},
        {"customer_id": second, "occurred_at": LATER},
    ]


def test_a_customer_cannot_endorse_their_own_contribution() -> None:
    author = uuid4()
    submitted = contribution(author=author)

    with pytest.raises(RuleViolationError):
        submitted.endorse(author, NOW, AGENT)

    assert event_names(submitted) == []
    assert submitted.endorsements == []


def test_a_customer_cannot_endorse_the_same_contribution_twice() -> None:
    submitted = contribution()
    fan = uuid4()
    submitted.endorse(fan, NOW, AGENT)
    submitted.collect_events()

    with pytest.raises(DuplicateEndorsementError):
        submitted.endorse(fan, LATER, AGENT)

    assert event_names(submitted) == []
    assert len(submitted.endorsements) == 1


# ---- status -------------------------------------------------------------------------------------


def test_the_transition_table_is_the_lifecycle_of_the_design() -> None:
    table = {(current, target) for current, targets in TRANSITIONS.items() for target in targets}

    assert table == EXPECTED_TRANSITIONS
    assert set(TRANSITIONS) == set(CONTRIBUTION_STATUSES)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(CONTRIBUTION_STATUSES, repeat=2)))
def test_a_status_change_is_allowed_exactly_when_the_transition_table_allows_it(current: str, target: str) -> None:
    submitted = contribution_in(current)
    assert submitted.status == current

    if (current, target) in EXPECTED_TRANSITIONS:
        submitted.change_status(target, "looked at it", LATER, AGENT)
        events = submitted.collect_events()
        assert [type(e).__qualname__ for e in events] == ["Contribution.StatusChanged"]
        assert (events[0].previous, events[0].status) == (current, target)
        assert submitted.status == target
        assert submitted.status_history[-1] == {
            "status": target,
            "previous": current,
            "note": "looked at it",
            "occurred_at": LATER,
            "actor": AGENT,
        }
    else:
        with pytest.raises(IllegalTransitionError):
            submitted.change_status(target, None, LATER, AGENT)
        assert event_names(submitted) == []
        assert submitted.status == current


def test_the_status_history_keeps_every_step() -> None:
    implemented = contribution_in("implemented")

    assert [(h["previous"], h["status"]) for h in implemented.status_history] == [
        ("submitted", "under_review"),
        ("under_review", "accepted"),
        ("accepted", "implemented"),
    ]


# ---- rewards and referrals ----------------------------------------------------------------------


def test_a_contribution_can_be_rewarded_more_than_once() -> None:
    submitted = contribution()

    submitted.reward("thank-you card", NOW, AGENT)
    submitted.reward("beta tester badge", LATER, AGENT)

    assert event_names(submitted) == ["Contribution.Rewarded", "Contribution.Rewarded"]
    assert [r["description"] for r in submitted.rewards] == ["thank-you card", "beta tester badge"]


def test_a_referral_is_converted_into_the_new_customer() -> None:
    referral = contribution("referral", referred_handle="@friend")
    newcomer = uuid4()

    referral.convert_referral(newcomer, LATER, AGENT)

    events = referral.collect_events()
    assert [type(e).__qualname__ for e in events] == ["Contribution.ReferralConverted"]
    assert events[0].new_customer_id == newcomer
    assert referral.converted_customer_id == newcomer


@pytest.mark.parametrize("kind", [kind for kind in CONTRIBUTION_KINDS if kind != "referral"])
def test_only_a_referral_can_be_converted(kind: str) -> None:
    other = contribution(kind, rating=4 if kind == "review" else None)

    with pytest.raises(RuleViolationError):
        other.convert_referral(uuid4(), LATER, AGENT)

    assert event_names(other) == []
    assert other.converted_customer_id is None


def test_a_referral_is_converted_only_once() -> None:
    referral = contribution("referral", referred_handle="@friend")
    first = uuid4()
    referral.convert_referral(first, NOW, AGENT)
    referral.collect_events()

    with pytest.raises(ConflictError):
        referral.convert_referral(uuid4(), LATER, AGENT)

    assert event_names(referral) == []
    assert referral.converted_customer_id == first


def test_a_customer_cannot_be_their_own_referral() -> None:
    author = uuid4()
    referral = contribution("referral", author=author, referred_handle="@me")

    with pytest.raises(RuleViolationError):
        referral.convert_referral(author, NOW, AGENT)

    assert event_names(referral) == []
