"""The `conversa` command line: serve, project, rebuild, import, openapi, agents."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import cast
from uuid import UUID

import click
import yaml

from domain.actor import SYSTEM, Actor
from domain.agent import ROLES, Role
from domain.ingest import MAX_BATCH, in_occurred_order
from projections.projector import Progress
from service.app import create_app, openapi_document
from service.runtime import build_application, build_delivery_worker, build_projector
from service.settings import Settings, SettingsError
from service.twcs import in_brand_threads, read_rows


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


@click.group()
def main() -> None:
    """Conversa: an event-sourced conversation-management CRM backend."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=lambda: int(os.environ.get("PORT", "8000")), show_default="$PORT or 8000")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
def serve(host: str, port: int, workers: int) -> None:
    """Run the API under gunicorn; on an empty store, create the first admin first."""
    settings = _settings()
    application = build_application(settings)
    try:
        token = application.bootstrap_admin(settings.bootstrap_token)
    finally:
        application.close()  # the workers open their own connections after they fork
    if token and settings.bootstrap_token:
        click.echo("Created the admin agent with the token from CONVERSA_BOOTSTRAP_TOKEN.")
    elif token:
        click.echo(f"Created the admin agent. Its token, shown only this once:\n\n    {token}\n")
    config = Path(__file__).with_name("gunicorn_conf.py")
    args = ["gunicorn", "-c", str(config), "-b", f"{host}:{port}", "-w", str(workers), "service.wsgi:create_app()"]
    os.execvp(sys.executable, [sys.executable, "-m", *args])


def _stopped_by_signals() -> threading.Event:
    """An event that SIGTERM or SIGINT sets, for a loop that runs until stopped."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


@main.command()
def project() -> None:
    """Run the projector: keep the views up to date with the event log until stopped."""
    settings = _settings()
    application = build_application(settings)
    projector = build_projector(settings, application)
    stop = _stopped_by_signals()
    click.echo(f"projector following the event log from position {projector.position()}", err=True)
    try:
        projector.follow(stop)
    finally:
        projector.database.close()
        application.close()


@main.command()
def deliver() -> None:
    """Run the webhook delivery worker: send integration events to subscriptions until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings()
    application = build_application(settings)
    worker = build_delivery_worker(settings, application)
    stop = _stopped_by_signals()
    click.echo("webhook delivery worker following the event log", err=True)
    try:
        worker.follow(stop)
    finally:
        worker.close()
        worker.store.database.close()
        application.close()


@main.command()
def rebuild() -> None:
    """Rebuild every view from position 0; the service answers from the old ones meanwhile."""
    settings = _settings()
    application = build_application(settings)
    projector = build_projector(settings, application)
    head = application.head_position
    last: list[Progress] = []
    with click.progressbar(
        length=max(head, 1), label="rebuilding views", show_eta=True, show_pos=True, item_show_func=_rate
    ) as bar:

        def advance(progress: Progress) -> None:
            bar.update(progress.position - bar.pos, progress)
            last[:] = [progress]

        generation = projector.rebuild(advance)
    summary = f": {last[0].events:,} events in {last[0].seconds:.1f} s, {_rate(last[0])}" if last else ""
    click.echo(f"views rebuilt as generation {generation} up to position {projector.position()}{summary}")
    projector.database.close()
    application.close()


def _rate(progress: Progress | None) -> str:
    return f"{progress.events_per_second:,.0f} events/s" if progress else ""


@main.group(name="import")
def import_() -> None:
    """Import conversations from files, through the same code as the ingest API."""


@import_.command("twcs")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--brand", help="Only the threads in which this support account (e.g. sprintcare) wrote.")
@click.option("--batch", type=click.IntRange(1, MAX_BATCH), default=MAX_BATCH, show_default=True)
def import_twcs(file: Path, brand: str | None, batch: int) -> None:
    """Import a "Customer Support on Twitter" CSV; running it again resumes and changes nothing twice."""
    rows = list(read_rows(file))
    invalid = [row for row in rows if row.message is None]
    if brand:
        rows = in_brand_threads(rows, brand)
    messages = [row.message for row in rows if row.message is not None]
    # All in the order the tweets happened, so that every reply finds its parent already there.
    messages = [messages[i] for i in in_occurred_order(messages)]
    application = build_application(_settings())
    counts: Counter[str] = Counter()
    started = time.monotonic()

    def rate(_: object) -> str:
        elapsed = time.monotonic() - started
        return f"{sum(counts.values()) / elapsed:,.0f} rows/s" if elapsed > 0 and counts else ""

    try:
        with click.progressbar(
            length=len(messages), label="importing", show_eta=True, show_pos=True, item_show_func=rate
        ) as bar:
            for start in range(0, len(messages), batch):
                chunk = messages[start : start + batch]
                ingested = application.ingest_messages(chunk, Actor(kind="system", name=f"twcs import of {file.name}"))
                counts.update(outcome.status for outcome in ingested.outcomes)
                bar.update(len(chunk), None)
    finally:
        application.close()
    seconds = time.monotonic() - started
    summary = ", ".join(f"{counts[s]:,} {s}" for s in ("created", "duplicate", "ignored", "rejected"))
    click.echo(
        f"{len(messages):,} rows in {seconds:.1f} s ({len(messages) / max(seconds, 1e-9):,.0f} rows/s): {summary}"
    )
    for row in invalid[:10]:
        click.echo(f"line {row.line} (tweet {row.tweet_id or '?'}) skipped: {row.problem}", err=True)
    if invalid:
        click.echo(f"{len(invalid):,} invalid rows skipped", err=True)


@main.command()
def openapi() -> None:
    """Print the OpenAPI document generated from the code (commit it as openapi.yaml)."""
    # The document depends on the code only; this app never opens its store.
    app = create_app(settings=Settings(database_url="sqlite:///unused", data_dir=Path("unused")))
    click.echo(yaml.safe_dump(openapi_document(app), sort_keys=False, allow_unicode=True), nl=False)


@main.group()
def agents() -> None:
    """Manage agents from the machine running the service."""


@agents.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="agent", show_default=True)
def agents_create(name: str, role: str) -> None:
    """Create an agent and print its token (shown only this once)."""
    application = build_application(_settings())
    try:
        written, token = application.register_agent(name, cast(Role, role))
    finally:
        application.close()
    click.echo(f"{written.aggregate.id}\t{role}\t{name}\ntoken: {token}")


@agents.command("list")
def agents_list() -> None:
    """List agents: id, role, active, name."""
    application = build_application(_settings())
    try:
        for agent in application.list_agents():
            click.echo(f"{agent.id}\t{agent.role}\t{'active' if agent.active else 'revoked'}\t{agent.name}")
    finally:
        application.close()


@agents.command("revoke")
@click.argument("agent_id", type=click.UUID)
def agents_revoke(agent_id: UUID) -> None:
    """Deactivate an agent; its token stops working."""
    application = build_application(_settings())
    try:
        application.deactivate_agent(agent_id, SYSTEM)
    finally:
        application.close()
    click.echo(f"revoked {agent_id}")


if __name__ == "__main__":
    main()
