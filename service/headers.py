"""Security headers on every answer."""

from __future__ import annotations

from flask import Flask, Response, request


def add_security_headers(app: Flask) -> None:
    """Answers are never sniffed as another type, never leak the URL, and authenticated ones are
    never stored by a cache (they carry customers' personal data)."""

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if "Authorization" in request.headers or request.path.startswith("/v1/"):
            response.headers["Cache-Control"] = "no-store"
        return response
