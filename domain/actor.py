"""Who did something: stored in every event so that history says who acted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

ActorKind = Literal["agent", "customer", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: UUID | None = None
    name: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The plain form stored inside events (a stored format: keep the keys)."""
        return {
            "kind": self.kind,
            "id": str(self.id) if self.id else None,
            "name": self.name,
        }

    @classmethod
    def customer(cls, customer_id: UUID) -> Actor:
        return cls(kind="customer", id=customer_id)


SYSTEM = Actor(kind="system", name="conversa")
