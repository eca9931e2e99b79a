"""Response targets: when a first reply and a resolution are due (configurable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.classification import Priority


def _default_first_response() -> dict[Priority, timedelta]:
    return {
        "urgent": timedelta(minutes=15),
        "high": timedelta(hours=1),
        "medium": timedelta(hours=4),
        "low": timedelta(hours=24),
    }


@dataclass(frozen=True)
class ResponseTargets:
    first_response: dict[Priority, timedelta] = field(default_factory=_default_first_response)
    resolution: timedelta = timedelta(days=3)

    def first_response_due(self, first_inbound_at: datetime | None, priority: Priority) -> datetime | None:
        """Due time of the first reply, counted from the first inbound message."""
        if first_inbound_at is None:
            return None
        return first_inbound_at + self.first_response[priority]

    def resolution_due(self, first_inbound_at: datetime | None) -> datetime | None:
        """Due time of the resolution, counted from the first inbound message."""
        if first_inbound_at is None:
            return None
        return first_inbound_at + self.resolution
