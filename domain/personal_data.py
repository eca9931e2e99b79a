"""Personal data inside events: every value belongs to one customer and is sealed with their key.

Events are immutable, so erasure cannot take a name out of the log. Instead each personal value
is stored encrypted with a key of the customer it is about (see domain/keyring.py), and forgetting
the customer destroys that key: the ciphertext stays, but nothing can read it any more
(crypto-shredding). Everything else in an event (types, ids, times, scores, sentiment) stays plain,
so projections and KPIs keep working after an erasure.

Aggregates keep plain text in memory; only their events carry `PersonalText`.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

FORGOTTEN = "[forgotten]"


@dataclass(frozen=True, slots=True)
class PersonalText:
    """Text about one customer (the owner). Read back as FORGOTTEN once the owner's key is gone."""

    owner: UUID
    value: str


def personal(owner: UUID, text: str | None) -> PersonalText | None:
    """Seal-able text of an owner; None stays None (there is nothing to protect)."""
    return None if text is None else PersonalText(owner, text)


def revealed(text: PersonalText | None) -> str | None:
    return None if text is None else text.value
