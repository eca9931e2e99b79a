"""The WSGI entry point for gunicorn: `service.wsgi:create_app()` builds the app in each worker."""

from service.app import create_app

__all__ = ["create_app"]
