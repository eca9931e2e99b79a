"""The per-process application and views, built lazily after gunicorn forks."""

from __future__ import annotations

import threading

from flask import current_app

from domain.application import CustomerRelations
from projections.database import ViewDatabase
from projections.projector import Projector
from projections.queries import Views
from service.settings import Settings


def build_application(settings: Settings) -> CustomerRelations:
    """Open the configured store (creating the SQLite folder when needed)."""
    env = settings.persistence_env()
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return CustomerRelations(env=env, targets=settings.targets)


def build_projector(settings: Settings, application: CustomerRelations) -> Projector:
    """A projector over the application's store, with the view tables created if missing."""
    projector = Projector(application, ViewDatabase(settings.persistence_env()), weights=settings.weights)
    projector.setup()
    return projector


class ApplicationHolder:
    """Builds the application on first use, so a process that forks never shares a pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._application: CustomerRelations | None = None
        self._projector: Projector | None = None
        self._views: Views | None = None
        self._lock = threading.Lock()

    def get(self) -> CustomerRelations:
        if self._application is None:
            with self._lock:
                if self._application is None:
                    self._application = build_application(self.settings)
        return self._application

    def projector(self) -> Projector:
        """A projector on this process's view connections (the service itself only reads)."""
        if self._projector is None:
            application = self.get()
            with self._lock:
                if self._projector is None:
                    self._projector = build_projector(self.settings, application)
        return self._projector

    def views(self) -> Views:
        if self._views is None:
            self._views = Views(self.projector().database)
        return self._views

    def close(self) -> None:
        with self._lock:
            if self._projector is not None:
                self._projector.database.close()
                self._projector = None
                self._views = None
            if self._application is not None:
                self._application.close()
                self._application = None


def _holder() -> ApplicationHolder:
    holder: ApplicationHolder = current_app.extensions["conversa"]
    return holder


def application() -> CustomerRelations:
    """The application of the current Flask app, in this process."""
    return _holder().get()


def views() -> Views:
    """The read models of the current Flask app, in this process."""
    return _holder().views()
