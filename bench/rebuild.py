"""Rebuild speed and view latency at scale, on SQLite (`make bench`).

Builds a store of N events shaped like a support operation (customers, conversations with
messages, replies, resolutions, CSAT and NPS, contributions), then measures in the same run:

- baseline: reading and decoding every event from the store, nothing else (events/s);
- rebuild: `Projector.rebuild()` from position 0 (events/s), and its ratio to the baseline;
- view queries: first page of advocates, unresolved complaints and the inbox (p50, p99 in ms).

Targets (issue 3): rebuild ≥ 10,000 events/s, ≥ 40 % of the baseline; each view p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import csv
import functools
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import domain.application
from domain.actor import Actor
from domain.application import CustomerRelations, InboundMessage
from domain.contribution import Contribution
from domain.conversation import Conversation
from domain.customer import Customer
from domain.sentiment import analyse
from projections.projector import Projector
from projections.queries import Views
from service.runtime import build_application, build_projector
from service.settings import Settings

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "twcs-sample.csv"
START = datetime(2025, 1, 1, tzinfo=UTC)
QUERY_RUNS = 300
TARGET_RATE = 10_000
TARGET_RATIO = 0.40
TARGET_P99_MS = 20.0


def sample_texts() -> list[str]:
    """Real customer tweets when the shared sample is there; a few stock lines otherwise."""
    if SAMPLE.exists():
        with SAMPLE.open(newline="", encoding="utf-8") as handle:
            texts = [row["text"] for row in csv.DictReader(handle) if row["inbound"] == "TRUE"]
        if texts:
            return texts
    return ["Where is my order?", "Thanks, great help!", "This is terrible, nobody answers.", "ok"]


def generate(application: CustomerRelations, events: int, seed: int = 7) -> None:
    """Write about `events` events in batches of whole stories (many events per transaction)."""
    rng = random.Random(seed)
    texts = sample_texts()
    # The analyser is deterministic; caching it per text only speeds up building the data set.
    domain.application.analyse = functools.cache(analyse)  # type: ignore[attr-defined]
    agent = Actor("agent", None, "Bench Agent").as_dict()
    customers: list[Customer] = []
    changed: dict[UUID, Customer] = {}
    batch: list[Any] = []
    written = 0
    clock = START
    while written < events:
        clock += timedelta(seconds=rng.randint(5, 120))
        if not customers or rng.random() < 0.25:
            handle = f"@user{len(customers)}"
            customer = Customer.register(
                name=f"User {len(customers)}",
                identities=[{"channel": "twitter", "handle": handle}],
                email=None,
                locale="en",
                occurred_at=clock,
                actor=agent,
            )
            if rng.random() < 0.3:
                customer.set_marketing_consent(True, "signup form", clock, agent)
            customers.append(customer)
        customer = rng.choice(customers[-5000:])
        changed[customer.id] = customer
        conversation = Conversation.start(customer.id, "twitter", None, "public", clock, agent)
        moment = clock
        for turn in range(rng.randint(1, 3)):
            text = rng.choice(texts)
            domain_message = InboundMessage(text, None, moment)
            application._receive(conversation, domain_message)
            moment += timedelta(minutes=rng.randint(1, 300))
            if rng.random() < 0.8:
                conversation.send_reply(uuid4(), "Thanks for reaching out!", None, moment, agent)
                moment += timedelta(minutes=rng.randint(1, 120))
            if turn == 0 and rng.random() < 0.1:
                conversation.assign(uuid4(), "Bench Agent", moment, agent)
        if rng.random() < 0.75:
            conversation.resolve(moment, agent)
            if rng.random() < 0.4:
                conversation.rate_satisfaction(rng.randint(1, 5), None, moment, agent)
        if rng.random() < 0.1:
            customer.give_nps(rng.randint(0, 10), None, moment, agent)
        batch.append(conversation)
        if rng.random() < 0.05:
            kind = rng.choice(["idea", "review", "answer", "referral", "content"])
            contribution = Contribution.submit(
                customer.id,
                kind,
                "An idea",
                "Details",
                rng.randint(1, 5) if kind == "review" else None,
                "@friend" if kind == "referral" else None,
                moment,
                agent,
            )
            batch.append(contribution)
        if len(batch) >= 200:
            written += _flush(application, batch, changed)
    written += _flush(application, batch, changed)


def _flush(application: CustomerRelations, batch: list[Any], changed: dict[UUID, Customer]) -> int:
    aggregates = [*changed.values(), *batch]
    count = sum(len(a.pending_events) for a in aggregates)
    application.save(*aggregates)
    batch.clear()
    changed.clear()
    return count


def read_and_decode(application: CustomerRelations) -> tuple[int, float]:
    """The baseline: every event read from the store and decoded, nothing else."""
    started = time.perf_counter()
    count, position = 0, 0
    while notifications := application.recorder.select_notifications(start=position + 1, limit=2000):
        with application.keyring.cached():  # as the projector does: each key looked up once per page
            for notification in notifications:
                application.mapper.to_domain_event(notification)
        count += len(notifications)
        position = notifications[-1].id
    return count, time.perf_counter() - started


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def query_latencies(views: Views) -> dict[str, tuple[float, float]]:
    now = datetime.now(UTC)
    queries = {
        "advocates": lambda: views.advocates(None, None, False, 50, None),
        "unresolved complaints": lambda: views.unresolved_complaints(None, None, now, 50, None),
        "inbox": lambda: views.inbox({}, now, 50, None),
        "inbox (status=open)": lambda: views.inbox({"status": "open"}, now, 50, None),
    }
    results = {}
    for name, query in queries.items():
        query()  # warm the page cache
        samples = []
        for _ in range(QUERY_RUNS):
            started = time.perf_counter()
            query()
            samples.append((time.perf_counter() - started) * 1000)
        results[name] = (statistics.median(samples), percentile(samples, 0.99))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="where to put the store (default: a temporary folder)")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="conversa-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=f"sqlite:///{folder / 'bench.sqlite'}", data_dir=folder)
    application = build_application(settings)
    if application.head_position < args.events:
        started = time.perf_counter()
        generate(application, args.events - application.head_position)
        print(f"wrote {application.head_position:,} events in {time.perf_counter() - started:,.1f} s")
    projector: Projector = build_projector(settings, application)

    count, seconds = read_and_decode(application)
    baseline = count / seconds
    print(f"baseline: read and decode {count:,} events in {seconds:,.1f} s = {baseline:,.0f} events/s")

    started = time.perf_counter()
    projector.rebuild()
    seconds = time.perf_counter() - started
    rate = count / seconds
    ratio = rate / baseline
    print(f"rebuild:  {count:,} events in {seconds:,.1f} s = {rate:,.0f} events/s")
    print(f"ratio:    rebuild / baseline = {ratio:.0%} (target ≥ {TARGET_RATIO:.0%}; ≥ {TARGET_RATE:,} events/s)")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(f"memory:   peak resident {peak_mib:,.0f} MiB (the rebuild holds its rows in memory)")

    failures = []
    if rate < TARGET_RATE or ratio < TARGET_RATIO:
        failures.append("rebuild")
    for name, (p50, p99) in query_latencies(Views(projector.database)).items():
        print(f"query:    {name:<22} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms (target p99 < {TARGET_P99_MS:.0f} ms)")
        if p99 >= TARGET_P99_MS:
            failures.append(name)
    print("result:   " + ("all targets met" if not failures else "missed: " + ", ".join(failures)))
    projector.database.close()
    application.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
