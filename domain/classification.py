"""Automatic classification of a conversation from its first inbound message (DESIGN.md)."""

from __future__ import annotations

from typing import Literal

Kind = Literal["question", "complaint", "praise", "idea", "mention", "other"]
KINDS: tuple[Kind, ...] = ("question", "complaint", "praise", "idea", "mention", "other")

Priority = Literal["low", "medium", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "urgent")

COMPLAINT_THRESHOLD = -0.35
PRAISE_THRESHOLD = 0.5


def classify(text: str, compound: float) -> Kind:
    """Complaint when clearly negative, else question when it asks, else praise when glowing."""
    if compound <= COMPLAINT_THRESHOLD:
        return "complaint"
    if "?" in text:
        return "question"
    if compound >= PRAISE_THRESHOLD:
        return "praise"
    return "other"


def initial_priority(kind: Kind) -> Priority:
    """Complaints start high, everything else medium."""
    return "high" if kind == "complaint" else "medium"
