"""The Customer aggregate: who a customer is, how to reach them, what they told us."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypedDict
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.errors import ConflictError, CustomerInactiveError, RuleViolationError
from domain.personal_data import FORGOTTEN, PersonalText, personal, revealed

PERSONAL_PROFILE_FIELDS = ("name", "email")


class Identity(TypedDict):
    channel: str
    handle: str


class SealedIdentity(TypedDict):
    """An identity as events store it: the handle is personal data."""

    channel: str
    handle: PersonalText


def identity_key(channel: str, handle: str) -> str:
    """Handles are matched case-insensitively, as channels like Twitter and e-mail do."""
    return f"{channel.casefold()}:{handle.casefold()}"


def current_person(customer: Customer, find: Callable[[UUID], Customer]) -> Customer:
    """The customer a person is now: this record, or the one it was merged into, and so on.

    Raises CustomerInactiveError when that person was forgotten.
    """
    while customer.merged_into is not None and customer.forgotten_at is None:
        customer = find(customer.merged_into)
    customer.check_is_active()
    return customer


class Customer(Aggregate):
    """A person the company talks to, with identities on channels.

    Its state is plain text; its events carry names, handles, e-mails and comments as
    PersonalText sealed with this customer's own key.
    """

    @classmethod
    def register(
        cls,
        name: str,
        identities: list[Identity],
        email: str | None,
        locale: str | None,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> Customer:
        customer_id = uuid4()  # chosen first: the personal data in the first event is sealed for it
        return cls(
            id=customer_id,
            name=PersonalText(customer_id, name),
            identities=[
                {"channel": i["channel"], "handle": PersonalText(customer_id, i["handle"])} for i in identities
            ],
            email=personal(customer_id, email),
            locale=locale,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("Registered")
    def __init__(
        self,
        id: UUID,
        name: PersonalText,
        identities: list[SealedIdentity],
        email: PersonalText | None,
        locale: str | None,
        occurred_at: datetime,
        actor: dict[str, Any],
    ) -> None:
        self.name = name.value
        self.identities: list[Identity] = [{"channel": i["channel"], "handle": i["handle"].value} for i in identities]
        self.email = revealed(email)
        self.locale = locale
        self.registered_at = occurred_at
        self.tags: list[str] = []
        self.marketing_consent = False
        self.consent_history: list[dict[str, Any]] = []
        self.nps_history: list[dict[str, Any]] = []
        self.merged_into: UUID | None = None
        self.merged_duplicates: list[UUID] = []
        self.forgotten_at: datetime | None = None

    # ---- guards ---------------------------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        return self.merged_into is None and self.forgotten_at is None

    def check_is_active(self) -> None:
        if self.forgotten_at is not None:
            raise CustomerInactiveError(f"customer {self.id} was forgotten")
        if self.merged_into is not None:
            raise CustomerInactiveError(f"customer {self.id} was merged into {self.merged_into}")

    def has_identity(self, channel: str, handle: str) -> bool:
        key = identity_key(channel, handle)
        return any(identity_key(i["channel"], i["handle"]) == key for i in self.identities)

    # ---- commands -------------------------------------------------------------------------------

    def link_identity(self, channel: str, handle: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.check_is_active()
        if self.has_identity(channel, handle):
            raise ConflictError(f"customer already has identity {channel}:{handle}")
        self._identity_linked(
            channel=channel, handle=PersonalText(self.id, handle), occurred_at=occurred_at, actor=actor
        )

    @event("IdentityLinked")
    def _identity_linked(
        self, channel: str, handle: PersonalText, occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        self.identities.append({"channel": channel, "handle": handle.value})

    def unlink_identity(self, channel: str, handle: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.check_is_active()
        if not self.has_identity(channel, handle):
            raise ConflictError(f"customer has no identity {channel}:{handle}")
        self._identity_unlinked(
            channel=channel, handle=PersonalText(self.id, handle), occurred_at=occurred_at, actor=actor
        )

    @event("IdentityUnlinked")
    def _identity_unlinked(
        self, channel: str, handle: PersonalText, occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        key = identity_key(channel, handle.value)
        self.identities = [i for i in self.identities if identity_key(i["channel"], i["handle"]) != key]

    def update_profile(self, changes: dict[str, Any], occurred_at: datetime, actor: dict[str, Any]) -> None:
        """Record only the fields that really change; no event when nothing does."""
        self.check_is_active()
        unknown = set(changes) - {"name", "email", "locale"}
        if unknown:
            raise RuleViolationError(f"not profile fields: {', '.join(sorted(unknown))}")
        real_changes = {
            k: personal(self.id, v) if k in PERSONAL_PROFILE_FIELDS else v
            for k, v in changes.items()
            if getattr(self, k) != v
        }
        if real_changes:
            self._profile_updated(changes=real_changes, occurred_at=occurred_at, actor=actor)

    @event("ProfileUpdated")
    def _profile_updated(self, changes: dict[str, Any], occurred_at: datetime, actor: dict[str, Any]) -> None:
        for field, value in changes.items():
            setattr(self, field, revealed(value) if field in PERSONAL_PROFILE_FIELDS else value)

    def tag(self, tag: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.check_is_active()
        if tag not in self.tags:
            self._tagged(tag=tag, occurred_at=occurred_at, actor=actor)

    @event("Tagged")
    def _tagged(self, tag: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.tags.append(tag)

    def untag(self, tag: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.check_is_active()
        if tag in self.tags:
            self._untagged(tag=tag, occurred_at=occurred_at, actor=actor)

    @event("Untagged")
    def _untagged(self, tag: str, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.tags.remove(tag)

    def set_marketing_consent(
        self, given: bool, source: str | None, occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        """Consent is a state: setting it to what it already is records nothing."""
        self.check_is_active()
        if given == self.marketing_consent:
            return
        if given:
            self._consent_given(source=source, occurred_at=occurred_at, actor=actor)
        else:
            self._consent_withdrawn(source=source, occurred_at=occurred_at, actor=actor)

    @event("MarketingConsentGiven")
    def _consent_given(self, source: str | None, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.marketing_consent = True
        self.consent_history.append({"given": True, "source": source, "occurred_at": occurred_at, "actor": actor})

    @event("MarketingConsentWithdrawn")
    def _consent_withdrawn(self, source: str | None, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.marketing_consent = False
        self.consent_history.append({"given": False, "source": source, "occurred_at": occurred_at, "actor": actor})

    def give_nps(self, score: int, comment: str | None, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.check_is_active()
        if not 0 <= score <= 10:
            raise RuleViolationError("an NPS score is between 0 and 10")
        self._nps_given(score=score, comment=personal(self.id, comment), occurred_at=occurred_at, actor=actor)

    @event("NpsGiven")
    def _nps_given(
        self, score: int, comment: PersonalText | None, occurred_at: datetime, actor: dict[str, Any]
    ) -> None:
        self.nps_history.append({"score": score, "comment": revealed(comment), "occurred_at": occurred_at})

    @property
    def latest_nps(self) -> int | None:
        return self.nps_history[-1]["score"] if self.nps_history else None

    def merge_into(self, survivor_id: UUID, occurred_at: datetime, actor: dict[str, Any]) -> None:
        """Non-destructive: this duplicate keeps its history and points at the survivor."""
        self.check_is_active()
        if survivor_id == self.id:
            raise RuleViolationError("a customer cannot be merged into itself")
        self._merged_into(survivor_id=survivor_id, occurred_at=occurred_at, actor=actor)

    @event("MergedInto")
    def _merged_into(self, survivor_id: UUID, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.merged_into = survivor_id

    def absorb_duplicate(self, duplicate_id: UUID, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.check_is_active()
        self._duplicate_absorbed(duplicate_id=duplicate_id, occurred_at=occurred_at, actor=actor)

    @event("DuplicateAbsorbed")
    def _duplicate_absorbed(self, duplicate_id: UUID, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.merged_duplicates.append(duplicate_id)

    def forget(self, reason: str | None, occurred_at: datetime, actor: dict[str, Any]) -> None:
        if self.forgotten_at is not None:
            raise CustomerInactiveError(f"customer {self.id} was already forgotten")
        self._forgotten(reason=reason, occurred_at=occurred_at, actor=actor)

    @event("Forgotten")
    def _forgotten(self, reason: str | None, occurred_at: datetime, actor: dict[str, Any]) -> None:
        self.forgotten_at = occurred_at
        self.name = FORGOTTEN
        self.email = None
        self.identities = []
        self.marketing_consent = False
        self.nps_history = [{**n, "comment": None} for n in self.nps_history]
