"""RFC 9457 problem documents, and the one table from exception types to HTTP statuses."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from eventsourcing.persistence import OperationalError as StoreUnavailableError
from flask import Flask, Response, json
from flask_limiter import RateLimitExceeded
from flask_smorest import Api
from marshmallow import Schema, fields
from marshmallow.exceptions import SCHEMA as SCHEMA_ERROR_KEY
from werkzeug.exceptions import HTTPException

from domain import errors as domain
from projections.queries import ViewsNotReadyError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:conversa:problem:"


class ServiceError(Exception):
    """An error of the HTTP layer itself (credentials, rights, preconditions)."""


class MissingCredentialsError(ServiceError):
    pass


class PermissionDeniedError(ServiceError):
    pass


class BadPreconditionError(ServiceError):
    """An If-Match header that is not an entity tag this API issued."""


class BadHeaderError(ServiceError):
    """A request header with a value this API cannot use."""


class ViewsBehindError(ServiceError):
    """The views have not caught up with the position the client asked for, in time."""


class UnknownPositionError(ServiceError):
    """A position past the newest event of the log: no write of this API answered with it."""


class IdempotencyKeyReusedError(ServiceError):
    """An Idempotency-Key sent again with another request than the one it was first sent with."""


class IdempotencyKeyInProgressError(ServiceError):
    """An Idempotency-Key whose first request is still running."""


class IdempotencyKeyNotAcceptedError(ServiceError):
    """An Idempotency-Key on an operation whose answer must never be stored (it holds a token)."""


# Most specific first is not needed: the lookup walks each exception's MRO.
EXCEPTION_PROBLEMS: dict[type[Exception], tuple[HTTPStatus, str]] = {
    domain.NotFoundError: (HTTPStatus.NOT_FOUND, "not-found"),
    domain.DuplicateIdentityError: (HTTPStatus.CONFLICT, "duplicate-identity"),
    domain.DuplicateMessageError: (HTTPStatus.CONFLICT, "duplicate-message"),
    domain.DuplicateEndorsementError: (HTTPStatus.CONFLICT, "duplicate-endorsement"),
    domain.IllegalTransitionError: (HTTPStatus.CONFLICT, "illegal-transition"),
    domain.CustomerInactiveError: (HTTPStatus.CONFLICT, "customer-inactive"),
    domain.ConcurrentChangeError: (HTTPStatus.CONFLICT, "concurrent-change"),
    domain.ConflictError: (HTTPStatus.CONFLICT, "conflict"),
    domain.StaleVersionError: (HTTPStatus.PRECONDITION_FAILED, "stale-version"),
    domain.RuleViolationError: (HTTPStatus.UNPROCESSABLE_ENTITY, "rule-violation"),
    domain.AuthenticationError: (HTTPStatus.UNAUTHORIZED, "unauthenticated"),
    MissingCredentialsError: (HTTPStatus.UNAUTHORIZED, "unauthenticated"),
    PermissionDeniedError: (HTTPStatus.FORBIDDEN, "forbidden"),
    BadPreconditionError: (HTTPStatus.BAD_REQUEST, "bad-precondition"),
    BadHeaderError: (HTTPStatus.BAD_REQUEST, "bad-header"),
    IdempotencyKeyReusedError: (HTTPStatus.UNPROCESSABLE_ENTITY, "idempotency-key-reused"),
    IdempotencyKeyInProgressError: (HTTPStatus.CONFLICT, "idempotency-key-in-progress"),
    IdempotencyKeyNotAcceptedError: (HTTPStatus.BAD_REQUEST, "idempotency-key-not-accepted"),
    ViewsBehindError: (HTTPStatus.SERVICE_UNAVAILABLE, "views-behind"),
    UnknownPositionError: (HTTPStatus.UNPROCESSABLE_ENTITY, "unknown-position"),
    ViewsNotReadyError: (HTTPStatus.SERVICE_UNAVAILABLE, "views-not-ready"),
    StoreUnavailableError: (HTTPStatus.SERVICE_UNAVAILABLE, "store-unavailable"),
}

HTTP_PROBLEM_SLUGS: dict[int, str] = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
}


class ProblemSchema(Schema):
    """An RFC 9457 problem document."""

    type = fields.String(required=True, metadata={"description": "URI identifying the kind of problem"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    errors = fields.List(
        fields.Dict(),
        metadata={"description": "Field errors: each with location, pointer (JSON Pointer) and detail"},
    )


def problem(status: int, slug: str, detail: str | None = None, **extensions: Any) -> Response:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + slug,
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extensions)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_CONTENT_TYPE)


def field_errors(messages: Any) -> list[dict[str, str]]:
    """Flatten webargs' {location: {field: [messages]}} into JSON-Pointer field errors."""
    flat: list[dict[str, str]] = []

    def walk(location: str, pointer: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                # marshmallow files errors about a whole object (wrong type, a schema-level rule)
                # under "_schema", which is no member of the request: point at the object itself.
                walk(location, pointer if key == SCHEMA_ERROR_KEY else f"{pointer}/{_escape(key)}", value)
        elif isinstance(node, list | tuple) and node and not all(isinstance(n, str) for n in node):
            for index, value in enumerate(node):
                walk(location, f"{pointer}/{index}", value)
        else:
            for message in node if isinstance(node, list | tuple) else [node]:
                flat.append({"location": location, "pointer": pointer or "/", "detail": str(message)})

    for location, node in (messages or {}).items():
        walk(location, "", node)
    return flat


def _escape(key: Any) -> str:
    """A member name as a JSON Pointer reference token (RFC 6901: ~ is ~0, / is ~1)."""
    return str(key).replace("~", "~0").replace("/", "~1")


class ConversaApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, answering every error as an RFC 9457 problem document."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().init_app(app, *args, **kwargs)
        app.register_error_handler(domain.DomainError, self.handle_known_exception)
        app.register_error_handler(ServiceError, self.handle_known_exception)
        app.register_error_handler(ViewsNotReadyError, self.handle_known_exception)
        app.register_error_handler(StoreUnavailableError, self.handle_known_exception)

    def _register_responses(self) -> None:
        # Error responses are problem documents, not flask-smorest's JSON shape; lazy, so only
        # the statuses that operations refer to appear in the document.
        content = {PROBLEM_CONTENT_TYPE: {"schema": self.ERROR_SCHEMA}}
        for status in HTTPStatus:
            if status >= 400:
                self.spec.components.response(
                    status.name, {"description": status.phrase, "content": content}, lazy=True
                )
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            {"description": "An RFC 9457 problem document", "content": content},
            lazy=True,
        )

    def handle_known_exception(self, error: Exception) -> Response:
        for cls in type(error).__mro__:
            if cls in EXCEPTION_PROBLEMS:
                status, slug = EXCEPTION_PROBLEMS[cls]
                response = problem(status, slug, str(error))
                if status == HTTPStatus.UNAUTHORIZED:
                    response.headers["WWW-Authenticate"] = 'Bearer realm="conversa"'
                if status == HTTPStatus.SERVICE_UNAVAILABLE or isinstance(error, IdempotencyKeyInProgressError):
                    response.headers["Retry-After"] = "1"
                return response
        raise error  # not ours: let Flask treat it as a server error

    def handle_http_exception(self, error: HTTPException) -> Response:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        if status >= 500:  # Flask has logged the cause already
            return problem(status, "server-error", "An unexpected error occurred; it has been logged.")
        extensions: dict[str, Any] = {}
        if "messages" in data:
            extensions["errors"] = field_errors(data["messages"])
        detail = data.get("message") or _detail(status, error, extensions)
        response = problem(status, HTTP_PROBLEM_SLUGS.get(status, "http-error"), detail, **extensions)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        if error.response is None and status == HTTPStatus.METHOD_NOT_ALLOWED:
            response.headers["Allow"] = ", ".join(getattr(error, "valid_methods", None) or [])
        return response


def _detail(status: int, error: HTTPException, extensions: Mapping[str, Any]) -> str:
    if status == HTTPStatus.UNPROCESSABLE_ENTITY and extensions.get("errors"):
        return "The request has invalid fields; see errors."
    if status == HTTPStatus.BAD_REQUEST and extensions.get("errors"):
        return "The request could not be parsed; see errors."
    if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        return "The request body is larger than this server accepts."
    if isinstance(error, RateLimitExceeded):  # its description is the limit, e.g. "1200 per 1 minute"
        return (
            f"The rate limit is {error.description} for each agent (for each address without a valid token); "
            "send again after the seconds in Retry-After."
        )
    return str(error.description or HTTPStatus(status).phrase)
