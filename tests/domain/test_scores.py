"""Happiness and advocacy against DESIGN.md's formulas ("Scores"), with the numbers worked out by hand."""

from __future__ import annotations

import pytest

from domain.scores import (
    ContributionFacts,
    CustomerFacts,
    HappinessWeights,
    advocacy,
    band,
    csat_component,
    happiness,
    is_advocate,
    nps_component,
    round_half_up,
    sentiment_component,
    service_component,
)


def contribution(
    kind: str, status: str = "submitted", rating: int | None = None, converted: bool = False
) -> ContributionFacts:
    return ContributionFacts(kind=kind, status=status, rating=rating, converted=converted)


# ---- happiness components -----------------------------------------------------------------------


def test_sentiment_starts_at_the_first_value_then_moves_three_tenths_towards_each_next_one() -> None:
    # 50·(0 + 1) = 50, then 50 + 0.3·(100 − 50) = 65
    assert sentiment_component([0.0, 1.0]) == pytest.approx(65.0)


def test_sentiment_follows_every_message_in_order() -> None:
    # 100, then 100 + 0.3·(0 − 100) = 70, then 70 + 0.3·(50 − 70) = 64
    assert sentiment_component([1.0, -1.0, 0.0]) == pytest.approx(64.0)
    # the same messages in another order give another mean: the order is part of the formula
    # 50, then 50 + 0.3·(0 − 50) = 35, then 35 + 0.3·(100 − 35) = 54.5
    assert sentiment_component([0.0, -1.0, 1.0]) == pytest.approx(54.5)


def test_sentiment_of_a_single_message_is_fifty_times_compound_plus_one() -> None:
    assert sentiment_component([-1.0]) == pytest.approx(0.0)
    assert sentiment_component([0.5]) == pytest.approx(75.0)


def test_sentiment_is_absent_without_inbound_messages() -> None:
    assert sentiment_component([]) is None


def test_csat_is_the_mean_of_the_last_five_ratings_only() -> None:
    # the last five of 1,2,3,4,5,5 are 2,3,4,5,5 → (25 + 50 + 75 + 100 + 100) / 5 = 70
    assert csat_component([1, 2, 3, 4, 5, 5]) == pytest.approx(70.0)
    # two early ones fall out of the window entirely
    assert csat_component([1, 1, 5, 5, 5, 5, 5]) == pytest.approx(100.0)


def test_csat_maps_one_to_zero_and_five_to_a_hundred() -> None:
    assert csat_component([1]) == 0.0
    assert csat_component([3]) == 50.0
    assert csat_component([5]) == 100.0
    assert csat_component([]) is None


def test_nps_component_is_the_latest_score_times_ten() -> None:
    assert nps_component(7) == 70.0
    assert nps_component(0) == 0.0
    assert nps_component(10) == 100.0
    assert nps_component(None) is None


def test_service_takes_thirty_per_open_complaint_and_ten_per_late_first_reply() -> None:
    facts = CustomerFacts(has_conversation=True, open_complaints=1, late_first_replies_in_last_10=2)
    assert service_component(facts) == 100 - 30 - 20


def test_service_is_clamped_at_zero() -> None:
    facts = CustomerFacts(has_conversation=True, open_complaints=3, late_first_replies_in_last_10=2)
    assert service_component(facts) == 0.0  # 100 − 90 − 20 = −10 → 0


def test_service_is_a_hundred_for_a_customer_with_a_conversation_and_nothing_wrong() -> None:
    assert service_component(CustomerFacts(has_conversation=True)) == 100.0


def test_service_is_absent_until_the_customer_has_a_conversation() -> None:
    assert service_component(CustomerFacts(has_conversation=False)) is None


# ---- happiness score and band --------------------------------------------------------------------


def test_round_half_up_rounds_halves_away_from_the_even_number() -> None:
    assert [round_half_up(x) for x in (0.5, 1.5, 2.5, 62.5, 2.4999, 2.5001)] == [1, 2, 3, 63, 2, 3]


def test_happiness_is_null_without_any_signal() -> None:
    mood = happiness(CustomerFacts())
    assert (mood.score, mood.band) == (None, None)
    assert mood.components == {"sentiment": None, "csat": None, "nps": None, "service": None}


def test_happiness_weighs_every_component_when_all_are_present() -> None:
    facts = CustomerFacts(
        inbound_compounds=[0.0, 1.0],  # 65
        csat_ratings=[4],  # 75
        latest_nps=7,  # 70
        has_conversation=True,
        open_complaints=1,  # 70
    )
    mood = happiness(facts)
    # 0.30·65 + 0.25·75 + 0.25·70 + 0.20·70 = 19.5 + 18.75 + 17.5 + 14 = 69.75 → 70
    assert mood.score == 70
    assert mood.band == "happy"
    assert mood.components == pytest.approx({"sentiment": 65.0, "csat": 75.0, "nps": 70.0, "service": 70.0})


def test_happiness_weighs_only_the_components_present() -> None:
    # nps 70 and service 100: (0.25·70 + 0.20·100) / 0.45 = 37.5 / 0.45 = 83.33 → 83
    mood = happiness(CustomerFacts(latest_nps=7, has_conversation=True))
    assert mood.score == 83
    assert mood.components["sentiment"] is None and mood.components["csat"] is None


def test_happiness_of_a_single_component_is_that_component() -> None:
    assert happiness(CustomerFacts(csat_ratings=[4])).score == 75
    assert happiness(CustomerFacts(latest_nps=3)).score == 30


def test_happiness_rounds_an_exact_half_up() -> None:
    # nps 50 and csat 75: (0.25·50 + 0.25·75) / 0.5 = 62.5 → 63 (round() would give 62)
    assert happiness(CustomerFacts(latest_nps=5, csat_ratings=[4])).score == 63
    # nps 0 and csat 25: 12.5 → 13 (round() would give 12)
    assert happiness(CustomerFacts(latest_nps=0, csat_ratings=[2])).score == 13


@pytest.mark.parametrize(
    ("compound", "sentiment", "score", "mood"),
    [(0.19, 59.5, 60, "happy"), (0.13, 56.5, 57, "neutral"), (0.57, 78.5, 79, "happy"), (-0.93, 3.5, 4, "at_risk")],
)
def test_happiness_rounds_an_exact_half_up_despite_binary_floating_point(
    compound: float, sentiment: float, score: int, mood: str
) -> None:
    # 50·(0.19 + 1) = 59.5 exactly, but 0.3·59.5 / 0.3 is 59.4999… in binary floating point
    facts = CustomerFacts(inbound_compounds=[compound])
    assert sentiment_component(facts.inbound_compounds) == pytest.approx(sentiment)
    assert (happiness(facts).score, happiness(facts).band) == (score, mood)


def test_happiness_uses_the_weights_it_is_given() -> None:
    weights = HappinessWeights(sentiment=0.0, csat=0.0, nps=1.0, service=1.0)
    # (1·30 + 1·100) / 2 = 65
    assert happiness(CustomerFacts(latest_nps=3, has_conversation=True), weights).score == 65


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (100, "delighted"),
        (80, "delighted"),
        (79, "happy"),
        (60, "happy"),
        (59, "neutral"),
        (40, "neutral"),
        (39, "unhappy"),
        (20, "unhappy"),
        (19, "at_risk"),
        (0, "at_risk"),
        (None, None),
    ],
)
def test_the_band_changes_at_eighty_sixty_forty_and_twenty(score: int | None, expected: str | None) -> None:
    assert band(score) == expected


# ---- advocacy -------------------------------------------------------------------------------------


def test_the_issues_example_passive_with_a_good_review_and_two_open_complaints_is_clamped_to_zero() -> None:
    facts = CustomerFacts(latest_nps=8, contributions=[contribution("review", rating=5)], open_complaints=2)
    support = advocacy(facts)
    # 10 + 10 − 40 = −20 → 0
    assert support.score == 0
    assert support.reasons == [
        "passive: latest NPS 8 (+10)",
        "contributions: review rated 5 (+10)",
        "2 open complaint(s) (-40)",
    ]


@pytest.mark.parametrize(
    ("nps", "points", "reason"),
    [
        (10, 40, "promoter: latest NPS 10 (+40)"),
        (9, 40, "promoter: latest NPS 9 (+40)"),
        (8, 10, "passive: latest NPS 8 (+10)"),
        (7, 10, "passive: latest NPS 7 (+10)"),
        (6, 0, "detractor: latest NPS 6 (-30)"),
        (0, 0, "detractor: latest NPS 0 (-30)"),
    ],
)
def test_the_latest_nps_adds_forty_for_promoters_ten_for_passives_and_takes_thirty_from_detractors(
    nps: int, points: int, reason: str
) -> None:
    support = advocacy(CustomerFacts(latest_nps=nps))
    assert support.score == points
    assert support.reasons == [reason]


def test_a_detractor_loses_thirty_from_what_else_they_earned() -> None:
    facts = CustomerFacts(latest_nps=6, contributions=[contribution("referral", converted=True)] * 2)
    assert advocacy(facts).score == 40 - 30


def test_each_very_positive_message_adds_five() -> None:
    support = advocacy(CustomerFacts(inbound_compounds=[0.5, 0.9, 0.4999, -0.8]))
    # 0.5 counts (≥ 0.5), 0.4999 does not
    assert support.score == 10
    assert support.reasons == ["2 very positive message(s) (+10)"]


def test_very_positive_messages_add_twenty_at_most() -> None:
    support = advocacy(CustomerFacts(inbound_compounds=[0.8] * 6))
    assert support.score == 20
    assert support.reasons == ["6 very positive message(s) (+20)"]


@pytest.mark.parametrize(
    ("made", "points", "reason"),
    [
        (contribution("idea", "accepted"), 10, "idea accepted"),
        (contribution("idea", "implemented"), 10, "idea implemented"),
        (contribution("review", rating=4), 10, "review rated 4"),
        (contribution("answer"), 5, "answer given"),
        (contribution("referral"), 10, "referral made"),
        (contribution("referral", converted=True), 20, "referral converted"),
        (contribution("content"), 5, "content contributed"),
    ],
)
def test_each_kind_of_contribution_earns_its_points(made: ContributionFacts, points: int, reason: str) -> None:
    support = advocacy(CustomerFacts(contributions=[made]))
    assert support.score == points
    assert support.reasons == [f"contributions: {reason} (+{points})"]


@pytest.mark.parametrize(
    "made",
    [
        contribution("idea", "submitted"),
        contribution("idea", "under_review"),
        contribution("idea", "declined"),
        contribution("review", rating=3),
        contribution("beta_feedback"),
    ],
)
def test_contributions_that_earn_nothing_give_no_points_and_no_reason(made: ContributionFacts) -> None:
    support = advocacy(CustomerFacts(contributions=[made]))
    assert (support.score, support.reasons) == (0, [])


def test_contributions_add_forty_at_most_and_the_reason_names_each_one() -> None:
    made = [contribution("referral", converted=True), contribution("referral", converted=True), contribution("answer")]
    support = advocacy(CustomerFacts(contributions=made))
    # 20 + 20 + 5 = 45 → 40
    assert support.score == 40
    assert support.reasons == ["contributions: referral converted, referral converted, answer given (+40)"]


def test_each_endorsement_received_adds_one_up_to_ten() -> None:
    assert advocacy(CustomerFacts(endorsements_received=3)).score == 3
    support = advocacy(CustomerFacts(endorsements_received=14))
    assert support.score == 10
    assert support.reasons == ["14 endorsement(s) received (+10)"]


def test_each_csat_of_five_adds_five_up_to_ten() -> None:
    one = advocacy(CustomerFacts(csat_ratings=[5, 4]))
    assert (one.score, one.reasons) == (5, ["1 CSAT rating(s) of 5 (+5)"])
    three = advocacy(CustomerFacts(csat_ratings=[5, 5, 5]))
    assert (three.score, three.reasons) == (10, ["3 CSAT rating(s) of 5 (+10)"])


def test_each_open_complaint_takes_twenty() -> None:
    facts = CustomerFacts(latest_nps=10, open_complaints=1)
    support = advocacy(facts)
    assert support.score == 40 - 20
    assert support.reasons[-1] == "1 open complaint(s) (-20)"


def test_advocacy_is_clamped_at_a_hundred_and_every_part_has_its_reason() -> None:
    facts = CustomerFacts(
        inbound_compounds=[0.9] * 4,
        csat_ratings=[5, 5],
        latest_nps=10,
        contributions=[contribution("referral", converted=True)] * 2,
        endorsements_received=10,
    )
    support = advocacy(facts)
    # 40 + 20 + 40 + 10 + 10 = 120 → 100
    assert support.score == 100
    assert support.reasons == [
        "promoter: latest NPS 10 (+40)",
        "4 very positive message(s) (+20)",
        "contributions: referral converted, referral converted (+40)",
        "10 endorsement(s) received (+10)",
        "2 CSAT rating(s) of 5 (+10)",
    ]


def test_a_customer_without_any_fact_has_no_advocacy_and_no_reasons() -> None:
    support = advocacy(CustomerFacts())
    assert (support.score, support.reasons) == (0, [])


# ---- advocates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("advocacy_score", "happiness_score", "active", "expected"),
    [
        (50, 60, True, True),
        (50, None, True, True),  # happiness unknown does not stand in the way
        (49, None, True, False),
        (49, 100, True, False),
        (50, 59, True, False),
        (100, 100, False, False),  # forgotten or merged away
        (100, None, False, False),
    ],
)
def test_an_advocate_has_advocacy_of_fifty_happiness_null_or_sixty_and_is_active(
    advocacy_score: int, happiness_score: int | None, active: bool, expected: bool
) -> None:
    assert is_advocate(advocacy_score, happiness_score, active) is expected
