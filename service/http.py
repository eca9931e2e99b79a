"""HTTP conventions of every write: ETag from the aggregate version, If-Match, Conversa-Position."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import flask_smorest
from eventsourcing.domain import Aggregate
from flask import request
from marshmallow import RAISE, Schema
from webargs.flaskparser import FlaskParser

from domain.application import Written
from service.errors import BadPreconditionError

F = TypeVar("F", bound=Callable[..., Any])

POSITION_HEADER = "Conversa-Position"
# One entity tag this API issued (a version, weak or strong), or *; ASCII digits only ("٣" is a digit too).
IF_MATCH_PATTERN = r'^[ \t]*(?:\*|(?:W/)?"[0-9]+")[ \t]*$'
_ETAG = re.compile(r'[ \t]*(?:W/)?"([0-9]+)"[ \t]*')

HEADER_DOCS = {
    "ETag": {"description": "The aggregate's version", "schema": {"type": "string"}},
    POSITION_HEADER: {
        "description": "Position of the write's last event in the event log; send it as "
        "Conversa-Min-Position to read views that include the write",
        "schema": {"type": "integer"},
    },
}
LOCATION_DOC = {"Location": {"description": "URL of the created resource", "schema": {"type": "string"}}}
IF_MATCH_DOC = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": 'The ETag you read (e.g. "3"); the change is refused with 412 if the resource changed since',
    "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
}


class StrictParser(FlaskParser):  # type: ignore[misc]
    """Refuses unknown query parameters as it does unknown body fields: a misspelt filter must
    answer 422, not silently return the unfiltered list."""

    DEFAULT_UNKNOWN_BY_LOCATION: ClassVar[dict[str, str | None]] = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "querystring": RAISE,
    }


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = StrictParser()


def etag(aggregate: Aggregate) -> str:
    return f'"{aggregate.version}"'


def expected_version() -> int | None:
    """The version named by If-Match, or None when the client did not ask for a check."""
    header = request.headers.get("If-Match")
    if header is None or header.strip(" \t") == "*":
        return None
    match = _ETAG.fullmatch(header)
    if match is None:
        raise BadPreconditionError(f'If-Match must be an entity tag like "3", not {header!r}')
    return int(match.group(1))


def answer(written: Written[Any], status: int = 200, location: str | None = None) -> tuple[Any, int, dict[str, str]]:
    """The aggregate, with the headers that let a client chain reads and writes on it."""
    headers = {"ETag": etag(written.aggregate)}
    if written.position is not None:
        headers[POSITION_HEADER] = str(written.position)
    if location is not None:
        headers["Location"] = location
    return written.aggregate, status, headers


def read(aggregate: Aggregate) -> tuple[Any, int, dict[str, str]]:
    return aggregate, 200, {"ETag": etag(aggregate)}


def changes(
    blp: Blueprint, schema: type[Schema] | Schema, status: int = 200, creates: bool = False
) -> Callable[[F], F]:
    """Document a write: its answer with ETag and position headers, If-Match on changes."""

    def decorate(view: F) -> F:
        headers = {**HEADER_DOCS, **(LOCATION_DOC if creates else {})}
        view = blp.response(status, schema, headers=headers)(view)
        if not creates:
            view = blp.doc(parameters=[IF_MATCH_DOC])(view)
        return view

    return decorate
