"""Happiness and advocacy: explainable, deterministic scores (DESIGN.md, "Scores").

They are functions of the facts gathered from a customer's events alone, never of the wall
clock, so a view rebuilt from the log gives the same numbers as the live one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.classification import COMPLAINT_THRESHOLD

SENTIMENT_SMOOTHING = 0.3
CSAT_WINDOW = 5
SERVICE_WINDOW = 10
NEGATIVE_COMPOUND = COMPLAINT_THRESHOLD  # a negative message is one a complaint starts with
VERY_POSITIVE_COMPOUND = 0.5

ADVOCATE_MIN_ADVOCACY = 50
ADVOCATE_MIN_HAPPINESS = 60

BANDS: tuple[tuple[int, str], ...] = ((80, "delighted"), (60, "happy"), (40, "neutral"), (20, "unhappy"))


@dataclass(frozen=True)
class HappinessWeights:
    sentiment: float = 0.30
    csat: float = 0.25
    nps: float = 0.25
    service: float = 0.20


@dataclass(frozen=True)
class ContributionFacts:
    kind: str
    status: str
    rating: int | None
    converted: bool


@dataclass
class CustomerFacts:
    """What the scores need to know of one customer, gathered event by event."""

    inbound_compounds: list[float] = field(default_factory=list)  # in occurred order
    csat_ratings: list[int] = field(default_factory=list)  # in occurred order
    latest_nps: int | None = None
    has_conversation: bool = False
    open_complaints: int = 0
    late_first_replies_in_last_10: int = 0
    contributions: list[ContributionFacts] = field(default_factory=list)
    endorsements_received: int = 0


@dataclass(frozen=True)
class Happiness:
    score: int | None
    band: str | None
    components: dict[str, float | None]


@dataclass(frozen=True)
class Advocacy:
    score: int
    reasons: list[str]


def round_half_up(value: float) -> int:
    """Schoolbook rounding (Python's round() rounds halves to even).

    The weighted mean is computed in binary floating point, where 0.3 · 59.5 / 0.3 comes out
    as 59.4999…; rounding to nine places first lets an exact half stay a half.
    """
    return math.floor(round(value, 9) + 0.5)


def sentiment_component(compounds: Sequence[float]) -> float | None:
    """Exponentially weighted mean of 50·(compound + 1), starting at the first value."""
    mean: float | None = None
    for compound in compounds:
        value = 50 * (compound + 1)
        mean = value if mean is None else mean + SENTIMENT_SMOOTHING * (value - mean)
    return mean


def csat_component(ratings: Sequence[int]) -> float | None:
    """Mean of the last five ratings, each (rating − 1)·25."""
    recent = ratings[-CSAT_WINDOW:]
    return sum((rating - 1) * 25 for rating in recent) / len(recent) if recent else None


def nps_component(latest_nps: int | None) -> float | None:
    return None if latest_nps is None else latest_nps * 10.0


def service_component(facts: CustomerFacts) -> float | None:
    """100 − 30 per open complaint − 10 per late first reply among the last ten conversations."""
    if not facts.has_conversation:
        return None
    return float(min(100, max(0, 100 - 30 * facts.open_complaints - 10 * facts.late_first_replies_in_last_10)))


def band(score: int | None) -> str | None:
    if score is None:
        return None
    for threshold, name in BANDS:
        if score >= threshold:
            return name
    return "at_risk"


def happiness(facts: CustomerFacts, weights: HappinessWeights | None = None) -> Happiness:
    """Weighted mean of the components present, 0–100, or None without any signal."""
    weights = weights or HappinessWeights()
    components = {
        "sentiment": sentiment_component(facts.inbound_compounds),
        "csat": csat_component(facts.csat_ratings),
        "nps": nps_component(facts.latest_nps),
        "service": service_component(facts),
    }
    present = {name: value for name, value in components.items() if value is not None}
    total_weight = sum(getattr(weights, name) for name in present)
    if not present or total_weight == 0:
        return Happiness(score=None, band=None, components=components)
    score = round_half_up(sum(getattr(weights, name) * value for name, value in present.items()) / total_weight)
    return Happiness(score=score, band=band(score), components=components)


def _contribution_points(contribution: ContributionFacts) -> tuple[int, str] | None:
    kind, status = contribution.kind, contribution.status
    if kind == "idea" and status in ("accepted", "implemented"):
        return 10, f"idea {status}"
    if kind == "review" and (contribution.rating or 0) >= 4:
        return 10, f"review rated {contribution.rating}"
    if kind == "answer":
        return 5, "answer given"
    if kind == "referral":
        return (20, "referral converted") if contribution.converted else (10, "referral made")
    if kind == "content":
        return 5, "content contributed"
    return None


def advocacy(facts: CustomerFacts) -> Advocacy:
    """Advocacy 0–100 with the reasons that add up to it, in the order of DESIGN.md's rules."""
    points = 0
    reasons: list[str] = []

    def add(delta: int, reason: str) -> None:
        nonlocal points
        if delta:
            points += delta
            reasons.append(f"{reason} ({delta:+d})")

    if facts.latest_nps is not None:
        if facts.latest_nps >= 9:
            add(40, f"promoter: latest NPS {facts.latest_nps}")
        elif facts.latest_nps >= 7:
            add(10, f"passive: latest NPS {facts.latest_nps}")
        else:
            add(-30, f"detractor: latest NPS {facts.latest_nps}")
    very_positive = sum(1 for c in facts.inbound_compounds if c >= VERY_POSITIVE_COMPOUND)
    add(min(20, 5 * very_positive), f"{very_positive} very positive message(s)")
    earned = [p for p in map(_contribution_points, facts.contributions) if p is not None]
    contribution_points = min(40, sum(p for p, _ in earned))
    if earned:
        add(contribution_points, "contributions: " + ", ".join(reason for _, reason in earned))
    add(min(10, facts.endorsements_received), f"{facts.endorsements_received} endorsement(s) received")
    csat_fives = sum(1 for rating in facts.csat_ratings if rating == 5)
    add(min(10, 5 * csat_fives), f"{csat_fives} CSAT rating(s) of 5")
    add(-20 * facts.open_complaints, f"{facts.open_complaints} open complaint(s)")
    return Advocacy(score=min(100, max(0, points)), reasons=reasons)


def is_advocate(advocacy_score: int, happiness_score: int | None, active: bool) -> bool:
    """Advocacy ≥ 50, happiness unknown or ≥ 60, and neither forgotten nor merged away."""
    return (
        active
        and advocacy_score >= ADVOCATE_MIN_ADVOCACY
        and (happiness_score is None or happiness_score >= ADVOCATE_MIN_HAPPINESS)
    )
