"""The Agent aggregate: a person or system that uses the API, with a role and a hashed token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Literal

from eventsourcing.domain import Aggregate, event

from domain.errors import ConflictError

Role = Literal["admin", "agent", "marketing", "integration"]
ROLES: tuple[Role, ...] = ("admin", "agent", "marketing", "integration")


def new_token() -> str:
    """256 random bits: high enough entropy that a plain SHA-256 is a safe way to store it."""
    return "cnv_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Agent(Aggregate):
    """Someone who may act through the API."""

    @event("Registered")
    def __init__(self, name: str, role: Role, token_hash: str, occurred_at: datetime) -> None:
        self.name = name
        self.role = role
        self.token_hash = token_hash
        self.active = True
        self.registered_at = occurred_at

    def holds_token(self, token: str) -> bool:
        return self.active and hmac.compare_digest(self.token_hash, hash_token(token))

    def rotate_token(self, token_hash: str, occurred_at: datetime) -> None:
        self.check_is_active()
        self._token_rotated(token_hash=token_hash, occurred_at=occurred_at)

    @event("TokenRotated")
    def _token_rotated(self, token_hash: str, occurred_at: datetime) -> None:
        self.token_hash = token_hash

    def deactivate(self, occurred_at: datetime) -> None:
        self.check_is_active()
        self._deactivated(occurred_at=occurred_at)

    @event("Deactivated")
    def _deactivated(self, occurred_at: datetime) -> None:
        self.active = False

    def check_is_active(self) -> None:
        if not self.active:
            raise ConflictError(f"agent {self.id} is deactivated")
