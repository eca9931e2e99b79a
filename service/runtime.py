"""The per-process CustomerRelations application, built lazily after gunicorn forks."""

from __future__ import annotations

import threading

from flask import current_app

from domain.application import CustomerRelations
from service.settings import Settings


def build_application(settings: Settings) -> CustomerRelations:
    """Open the configured store (creating the SQLite folder when needed)."""
    env = settings.persistence_env()
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return CustomerRelations(env=env, targets=settings.targets)


class ApplicationHolder:
    """Builds the application on first use, so a process that forks never shares a pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._application: CustomerRelations | None = None
        self._lock = threading.Lock()

    def get(self) -> CustomerRelations:
        if self._application is None:
            with self._lock:
                if self._application is None:
                    self._application = build_application(self.settings)
        return self._application

    def close(self) -> None:
        with self._lock:
            if self._application is not None:
                self._application.close()
                self._application = None


def application() -> CustomerRelations:
    """The application of the current Flask app, in this process."""
    holder: ApplicationHolder = current_app.extensions["conversa"]
    return holder.get()
