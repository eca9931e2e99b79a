"""The Contribution aggregate: what a prosumer gives the company (ideas, reviews, answers, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    ConflictError,
    DuplicateEndorsementError,
    IllegalTransitionError,
    RuleViolationError,
)
from domain.personal_data import PersonalText, personal, revealed

ContributionKind = Literal["idea", "review", "answer", "referral", "content", "beta_feedback"]
CONTRIBUTION_KINDS: tuple[ContributionKind, ...] = ("idea", "review", "answer", "referral", "content", "beta_feedback")

ContributionStatus = Literal["submitted", "under_review", "accepted", "implemented", "declined"]
CONTRIBUTION_STATUSES: tuple[ContributionStatus, ...] = (
    "submitted",
    "under_review",
    "accepted",
    "implemented",
    "declined",
)

# submitted → under_review → accepted → implemented; declining is possible until accepted.
TRANSITIONS: dict[ContributionStatus, tuple[ContributionStatus, ...]] = {
    "submitted": ("under_review", "declined"),
    "under_review": ("accepted", "declined"),
    "accepted": ("implemented",),
    "implemented": (),
    "declined": (),
}


class Contribution(Aggregate):
    """A prosumer's contribution, which other customers may endorse and the company may reward.

    Its texts (title, body, referred handle, status notes, rewards) are PersonalText sealed with
    the author's key.
    """

    @classmethod
    def submit(
        cls,
        customer_id: UUID,
        kind: ContributionKind,
        title: str,
        body: str,
        rating: int | None,
        referred_handle: str | None,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> Contribution:
        return cls(
            customer_id=customer_id,
            kind=kind,
            title=PersonalText(customer_id, title),
            body=PersonalText(customer_id, body),
            rating=rating,
            referred_handle=personal(customer_id, referred_handle),
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("Submitted")
    def __init__(
        self,
        customer_id: UUID,
        kind: ContributionKind,
        title: PersonalText,
        body: PersonalText,
        rating: int | None,
        referred_handle: PersonalText | None,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> None:
        self.customer_id = customer_id
        self.kind = kind
        self.title = title.value
        self.body = body.value
        self.rating = rating
        self.referred_handle = revealed(referred_handle)
        self.submitted_at = occurred_at
        self.status: ContributionStatus = "submitted"
        self.status_history: list[dict[str, Any]] = []
        self.endorsements: list[dict[str, Any]] = []
        self.rewards: list[dict[str, Any]] = []
        self.converted_customer_id: UUID | None = None

    @staticmethod
    def check_fields(kind: ContributionKind, rating: int | None, referred_handle: str | None) -> None:
        """A review carries a rating 1–5 and only a review does; a referral names whom it refers."""
        if kind == "review":
            if rating is None or not 1 <= rating <= 5:
                raise RuleViolationError("a review needs a rating between 1 and 5")
        elif rating is not None:
            raise RuleViolationError("only a review has a rating")
        if kind == "referral" and not referred_handle:
            raise RuleViolationError("a referral needs the referred handle")
        if kind != "referral" and referred_handle is not None:
            raise RuleViolationError("only a referral has a referred handle")

    def endorse(self, customer_id: UUID, occurred_at: datetime, actor: dict[str, Any]) -> None:
        """One vote per customer, never by the author."""
        if customer_id == self.customer_id:
            raise RuleViolationError("a customer cannot endorse their own contribution")
        if any(e["customer_id"] == customer_id for e in self.endorsements):
            raise DuplicateEndorsementError(f"customer {customer_id} already endorsed this contribution")
        self._endorsed(customer_id=customer_id, occurred_at=occurred_at, actor=actor)

    @event("Endorsed")
    def _endorsed(self, customer_id: UUID, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.endorsements.append({"customer_id": customer_id, "occurred_at": occurred_at})

    def change_status(
        self, status: ContributionStatus, note: str | None, occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        if status not in TRANSITIONS[self.status]:
            allowed = ", ".join(TRANSITIONS[self.status]) or "none"
            raise IllegalTransitionError(f"cannot go from {self.status} to {status} (allowed: {allowed})")
        self._status_changed(
            status=status,
            previous=self.status,
            note=personal(self.customer_id, note),
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("StatusChanged")
    def _status_changed(
        self,
        status: ContributionStatus,
        previous: ContributionStatus,
        note: PersonalText | None,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> None:
        self.status = status
        self.status_history.append(
            {"status": status, "previous": previous, "note": revealed(note), "occurred_at": occurred_at, "actor": actor}
        )

    def reward(self, description: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self._rewarded(description=PersonalText(self.customer_id, description), occurred_at=occurred_at, actor=actor)

    @event("Rewarded")
    def _rewarded(self, description: PersonalText, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.rewards.append({"description": description.value, "occurred_at": occurred_at, "actor": actor})

    def convert_referral(self, new_customer_id: UUID, occurred_at: datetime, actor: dict[str, Any]) -> None:
        if self.kind != "referral":
            raise RuleViolationError("only a referral can be converted")
        if self.converted_customer_id is not None:
            raise ConflictError("this referral was already converted")
        if new_customer_id == self.customer_id:
            raise RuleViolationError("a customer cannot be their own referral")
        self._referral_converted(new_customer_id=new_customer_id, occurred_at=occurred_at, actor=actor)

    @event("ReferralConverted")
    def _referral_converted(self, new_customer_id: UUID, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.converted_customer_id = new_customer_id
