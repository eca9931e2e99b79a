"""Ingest throughput on the shared Twitter sample, on SQLite (`make bench`).

Imports every row of ../shared/data/twcs-sample.csv into a fresh store twice, in the same run:

- baseline: one message per ingest call, so one transaction per message (rows/s);
- batched: up to 1,000 messages per call, one transaction per call, as `conversa import` does
  (rows/s), and its ratio to the baseline.

Both go through the same threading code and sentiment analysis; only the batching differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from domain.actor import Actor
from domain.ingest import ChannelMessage, in_occurred_order
from service.runtime import build_application
from service.settings import Settings
from service.twcs import read_rows

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "twcs-sample.csv"
IMPORTER = Actor(kind="system", name="bench")


def ingest(messages: list[ChannelMessage], batch: int) -> tuple[float, int]:
    """Rows per second into a fresh store, and the number of events written."""
    folder = Path(tempfile.mkdtemp(prefix="conversa-ingest-"))
    application = build_application(Settings(database_url=f"sqlite:///{folder / 'bench.sqlite'}", data_dir=folder))
    try:
        started = time.perf_counter()
        for start in range(0, len(messages), batch):
            application.ingest_messages(messages[start : start + batch], IMPORTER)
        seconds = time.perf_counter() - started
        return len(messages) / seconds, application.head_position
    finally:
        application.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=SAMPLE)
    args = parser.parse_args()
    messages = [row.message for row in read_rows(args.file) if row.message is not None]
    messages = [messages[i] for i in in_occurred_order(messages)]
    baseline, baseline_events = ingest(messages, batch=1)
    print(f"baseline: {len(messages):,} rows one per transaction = {baseline:,.0f} rows/s ({baseline_events:,} events)")
    batched, batched_events = ingest(messages, batch=1000)
    print(f"batched:  {len(messages):,} rows 1,000 per transaction = {batched:,.0f} rows/s ({batched_events:,} events)")
    print(f"ratio:    batched / baseline = {batched / baseline:.1f}x")
    return 0 if batched_events == baseline_events else 1  # the same store either way


if __name__ == "__main__":
    sys.exit(main())
