"""The per-process application and views, built lazily after gunicorn forks."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flask import current_app

from domain.application import CustomerRelations
from projections.database import ViewDatabase
from projections.integration_events import IntegrationFeed
from projections.projector import Projector
from projections.queries import Views
from service.settings import Settings
from service.webhook_delivery import DeliveryWorker
from service.webhooks import WebhookStore

if TYPE_CHECKING:
    from service.idempotency import IdempotencyKeys


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


def build_delivery_worker(settings: Settings, application: CustomerRelations) -> DeliveryWorker:
    """A webhook delivery worker over the application's log, with the webhook tables created if missing."""
    store = WebhookStore(ViewDatabase(settings.persistence_env()))
    store.setup()
    return DeliveryWorker(IntegrationFeed(application), store, timeout_seconds=settings.webhook_timeout_seconds)


class ApplicationHolder:
    """Builds the application on first use, so a process that forks never shares a pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._application: CustomerRelations | None = None
        self._projector: Projector | None = None
        self._views: Views | None = None
        self._integration_feed: IntegrationFeed | None = None
        self._webhooks: WebhookStore | None = None
        self._idempotency_keys: IdempotencyKeys | None = None
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

    def idempotency_keys(self) -> IdempotencyKeys:
        """The idempotency records, on this process's own connections, with their table created."""
        from service.idempotency import IdempotencyKeys  # not at the top: service.idempotency imports this module

        if self._idempotency_keys is None:
            self.get()  # opens the store first, which creates the SQLite folder
            with self._lock:
                if self._idempotency_keys is None:
                    keys = IdempotencyKeys(ViewDatabase(self.settings.persistence_env()))
                    keys.setup()
                    self._idempotency_keys = keys
        return self._idempotency_keys

    def integration_feed(self) -> IntegrationFeed:
        if self._integration_feed is None:
            self._integration_feed = IntegrationFeed(self.get())
        return self._integration_feed

    def webhooks(self) -> WebhookStore:
        """The webhook subscriptions, on this process's view connections, with their tables created."""
        if self._webhooks is None:
            database = self.projector().database
            with self._lock:
                if self._webhooks is None:
                    store = WebhookStore(database)
                    store.setup()
                    self._webhooks = store
        return self._webhooks

    def close(self) -> None:
        with self._lock:
            self._integration_feed = None
            self._webhooks = None
            if self._idempotency_keys is not None:
                self._idempotency_keys.database.close()
                self._idempotency_keys = None
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


def idempotency_keys() -> IdempotencyKeys:
    """The idempotency records of the current Flask app, in this process."""
    return _holder().idempotency_keys()


def integration_feed() -> IntegrationFeed:
    """The integration events of the current Flask app's event log."""
    return _holder().integration_feed()


def webhooks() -> WebhookStore:
    """The webhook subscriptions and delivery log of the current Flask app, in this process."""
    return _holder().webhooks()
