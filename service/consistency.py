"""Read-your-writes for views: wait until the projector has passed a position the client names."""

from __future__ import annotations

import re

from flask import request
from marshmallow import fields, validate

from service.errors import BadHeaderError, UnknownPositionError, ViewsBehindError
from service.runtime import application, views

MIN_POSITION_HEADER = "Conversa-Min-Position"
WAIT_SECONDS = 5.0

MIN_POSITION_FIELD = fields.Integer(
    load_default=None,
    validate=validate.Range(min=0),
    metadata={
        "description": f"Wait (up to {WAIT_SECONDS:g} s) until the views include this position; "
        f"the {MIN_POSITION_HEADER} header does the same"
    },
)


def await_views(min_position: int | None) -> None:
    """Return once the views include the position asked for; 503 with Retry-After after 5 s."""
    header = request.headers.get(MIN_POSITION_HEADER)
    if header is not None and not re.fullmatch(r"\s*[0-9]+\s*", header):  # ASCII only: "²" is a digit too
        raise BadHeaderError(f"{MIN_POSITION_HEADER} must be a whole number, not {header!r}")
    wanted = max(min_position or 0, int(header) if header is not None else 0)
    if not wanted or views().position() >= wanted:
        return
    # Every position this API answers with is committed before the answer is sent: one past the head
    # was never answered, and waiting for it would only end in a 503 after 5 s.
    if wanted > application().head_position:
        raise UnknownPositionError(
            f"the event log has no position {wanted}; send a Conversa-Position this API answered"
        )
    if not views().wait_for(wanted, WAIT_SECONDS):
        raise ViewsBehindError(f"the views have not reached position {wanted} yet; retry shortly")
