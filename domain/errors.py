"""Domain errors: a small hierarchy that the service layer maps to HTTP statuses."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class NotFoundError(DomainError):
    """The thing asked for does not exist."""


class CustomerNotFoundError(NotFoundError):
    pass


class ConversationNotFoundError(NotFoundError):
    pass


class MessageNotFoundError(NotFoundError):
    pass


class ContributionNotFoundError(NotFoundError):
    pass


class AgentNotFoundError(NotFoundError):
    pass


class ConflictError(DomainError):
    """The command does not fit the current state of the aggregate."""


class DuplicateIdentityError(ConflictError):
    pass


class DuplicateMessageError(ConflictError):
    pass


class DuplicateEndorsementError(ConflictError):
    pass


class IllegalTransitionError(ConflictError):
    pass


class CustomerInactiveError(ConflictError):
    """The customer was merged into another one or forgotten: it takes no more changes."""


class ConcurrentChangeError(ConflictError):
    """Someone else changed the same aggregate at the same time, repeatedly."""


class StaleVersionError(DomainError):
    """The caller's expected version of an aggregate is not the current one."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, but the current version is {actual}")
        self.expected = expected
        self.actual = actual


class RuleViolationError(DomainError):
    """The command breaks a business rule whatever the state (e.g. self-endorsement)."""


class AuthenticationError(DomainError):
    """The token is unknown, revoked, or belongs to an inactive agent."""
