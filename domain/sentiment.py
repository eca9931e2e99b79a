"""Sentiment of customer text, computed once at write time and stored in the event.

Storing the analyser's name and version with the score means a rebuild of any view gives the
same answers even after the analyser is upgraded.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version
from typing import TypedDict

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ANALYSER = "vaderSentiment"


class Sentiment(TypedDict):
    compound: float
    analyser: str
    version: str


@cache
def _analyser() -> SentimentIntensityAnalyzer:
    # Loading the lexicon takes tens of milliseconds: once per process.
    return SentimentIntensityAnalyzer()


@cache
def _analyser_version() -> str:
    return version(ANALYSER)


def analyse(text: str) -> Sentiment:
    """VADER compound score in −1..1 with the analyser that produced it."""
    compound = float(_analyser().polarity_scores(text)["compound"])
    return {"compound": compound, "analyser": ANALYSER, "version": _analyser_version()}
