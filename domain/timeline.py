"""A customer's history told for people: one entry per event, with who acted and a summary."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.personal_data import FORGOTTEN, PersonalText

EXCERPT_LENGTH = 80


@dataclass(frozen=True)
class TimelineEntry:
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: dict[str, Any]
    summary: str
    aggregate_type: str
    aggregate_id: UUID
    version: int

    @property
    def sort_key(self) -> tuple[datetime, datetime, str, int]:
        return (self.occurred_at, self.recorded_at, str(self.aggregate_id), self.version)


def _excerpt(text: str | None) -> str:
    if text is None:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[: EXCERPT_LENGTH - 1] + "…"


# Each summary gets the event and a function that shows personal text, or hides it once the
# customer is forgotten; only fields that carry personal data go through it.
Personal = Callable[[PersonalText | None], str]
Summary = Callable[[Any, Personal], str]

SUMMARIES: dict[str, tuple[str, Summary]] = {
    "Customer.Registered": ("customer.registered", lambda e, p: f"Registered as {p(e.name)}"),
    "Customer.IdentityLinked": (
        "customer.identity_linked",
        lambda e, p: f"Identity {e.channel}:{p(e.handle)} linked",
    ),
    "Customer.IdentityUnlinked": (
        "customer.identity_unlinked",
        lambda e, p: f"Identity {e.channel}:{p(e.handle)} unlinked",
    ),
    "Customer.ProfileUpdated": (
        "customer.profile_updated",
        lambda e, p: "Profile updated: " + ", ".join(sorted(e.changes)),
    ),
    "Customer.Tagged": ("customer.tagged", lambda e, p: f"Tagged {e.tag}"),
    "Customer.Untagged": ("customer.untagged", lambda e, p: f"Untagged {e.tag}"),
    "Customer.MarketingConsentGiven": ("customer.consent_given", lambda e, p: "Marketing consent given"),
    "Customer.MarketingConsentWithdrawn": (
        "customer.consent_withdrawn",
        lambda e, p: "Marketing consent withdrawn",
    ),
    "Customer.NpsGiven": (
        "customer.nps_given",
        lambda e, p: f"NPS {e.score}" + (f": “{_excerpt(p(e.comment))}”" if e.comment else ""),
    ),
    "Customer.MergedInto": ("customer.merged_into", lambda e, p: f"Merged into customer {e.survivor_id}"),
    "Customer.DuplicateAbsorbed": (
        "customer.duplicate_merged",
        lambda e, p: f"Duplicate customer {e.duplicate_id} merged in",
    ),
    "Customer.Forgotten": ("customer.forgotten", lambda e, p: "Personal data erased on request"),
    "Conversation.Started": (
        "conversation.started",
        lambda e, p: f"Conversation started on {e.channel}" + (f": {p(e.subject)}" if e.subject else ""),
    ),
    "Conversation.MessageReceived": (
        "conversation.message_received",
        lambda e, p: f"Message received: “{_excerpt(p(e.text))}”",
    ),
    "Conversation.ReplySent": (
        "conversation.reply_sent",
        lambda e, p: f"Reply by {e.actor.get('name')}: “{_excerpt(p(e.text))}”",
    ),
    "Conversation.NoteAdded": ("conversation.note_added", lambda e, p: f"Note: “{_excerpt(p(e.text))}”"),
    "Conversation.Classified": (
        "conversation.classified",
        lambda e, p: f"Classified as {e.kind} ({e.source})",
    ),
    "Conversation.PriorityChanged": (
        "conversation.priority_changed",
        lambda e, p: f"Priority set to {e.priority} ({e.source})",
    ),
    "Conversation.Assigned": ("conversation.assigned", lambda e, p: f"Assigned to {e.agent_name}"),
    "Conversation.Unassigned": ("conversation.unassigned", lambda e, p: "Unassigned"),
    "Conversation.Escalated": ("conversation.escalated", lambda e, p: f"Escalated: {_excerpt(p(e.reason))}"),
    "Conversation.Resolved": ("conversation.resolved", lambda e, p: "Resolved"),
    "Conversation.Reopened": (
        "conversation.reopened",
        lambda e, p: "Reopened by a new message" if e.automatic else "Reopened",
    ),
    "Conversation.SatisfactionRated": (
        "conversation.csat_rated",
        lambda e, p: f"CSAT {e.rating}/5" + (f": “{_excerpt(p(e.comment))}”" if e.comment else ""),
    ),
    "Conversation.MessageRetracted": (
        "conversation.message_retracted",
        lambda e, p: f"Message {e.message_id} retracted: {_excerpt(p(e.reason))}",
    ),
    "Conversation.Absorbed": (
        "conversation.absorbed",
        lambda e, p: f"Took in {len(e.messages)} message(s) of conversation {e.conversation_id}, which continued it",
    ),
    "Conversation.MergedInto": (
        "conversation.merged_into",
        lambda e, p: f"Merged into conversation {e.survivor_id}",
    ),
    "Contribution.Submitted": (
        "contribution.submitted",
        lambda e, p: f"Submitted {e.kind.replace('_', ' ')}: {_excerpt(p(e.title))}",
    ),
    "Contribution.Endorsed": ("contribution.endorsed", lambda e, p: f"Endorsed by customer {e.customer_id}"),
    "Contribution.StatusChanged": (
        "contribution.status_changed",
        lambda e, p: f"Status {e.previous} → {e.status}",
    ),
    "Contribution.Rewarded": ("contribution.rewarded", lambda e, p: f"Rewarded: {_excerpt(p(e.description))}"),
    "Contribution.ReferralConverted": (
        "contribution.referral_converted",
        lambda e, p: f"Referral became customer {e.new_customer_id}",
    ),
}


def timeline_entries(events: Iterable[Any], forgotten: bool) -> list[TimelineEntry]:
    """Entries for the events, oldest first by when they happened on the channel."""

    def personal(text: PersonalText | None) -> str:
        return FORGOTTEN if forgotten else (text.value if text else "")

    entries = []
    for event in events:
        qualname = type(event).__qualname__
        entry_type, summary = SUMMARIES[qualname]
        entries.append(
            TimelineEntry(
                type=entry_type,
                occurred_at=event.occurred_at,
                recorded_at=event.timestamp,
                actor=event.actor,
                summary=summary(event, personal),
                aggregate_type=qualname.split(".")[0].lower(),
                aggregate_id=event.originator_id,
                version=event.originator_version,
            )
        )
    return sorted(entries, key=lambda entry: entry.sort_key)
