"""Cross-origin requests from browsers: off unless CONVERSA_CORS_ORIGINS lists the origins allowed."""

from __future__ import annotations

import re
from collections.abc import Sequence

from flask import Flask, Response
from flask_cors import CORS

from service.consistency import MIN_POSITION_HEADER
from service.http import POSITION_HEADER
from service.rate_limits import RATE_LIMIT_HEADERS, RETRY_AFTER_HEADER

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_REQUEST_HEADERS = ("Authorization", "Content-Type", "If-Match", "Idempotency-Key", MIN_POSITION_HEADER)
EXPOSED_RESPONSE_HEADERS = ("ETag", "Location", POSITION_HEADER, RETRY_AFTER_HEADER, *RATE_LIMIT_HEADERS)
# How long a browser may reuse a preflight's answer (Chromium caps it at 2 hours).
PREFLIGHT_MAX_AGE_SECONDS = 600


def allow_cross_origin(app: Flask, origins: Sequence[str]) -> None:
    """Let scripts on these exact origins call the API; nothing changes when there are none."""
    if not origins:
        return
    CORS(
        app,
        # flask-cors reads a string holding any of *?[]()$^ as a regular expression, and an IPv6
        # origin holds brackets: give it patterns that match each origin whole and nothing else.
        origins=[re.compile(re.escape(origin) + r"\Z", re.IGNORECASE) for origin in origins],
        methods=list(ALLOWED_METHODS),
        allow_headers=list(ALLOWED_REQUEST_HEADERS),
        expose_headers=list(EXPOSED_RESPONSE_HEADERS),
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
        # Tokens travel in Authorization, never in cookies: no credentials mode needed.
        supports_credentials=False,
        # No Origin, no CORS headers (flask-cors's default would list its plain-string origins then).
        always_send=False,
        vary_header=False,  # below, on every answer, not only on those to an allowed origin
    )

    @app.after_request
    def vary_by_origin(response: Response) -> Response:
        # The CORS headers depend on Origin, so a cache must not hand one origin's answer to another.
        response.vary.add("Origin")
        return response
