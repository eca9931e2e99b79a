"""`conversa import twcs`: the shared sample of real support conversations, imported twice."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.runtime import build_application
from service.settings import Settings
from service.twcs import TIME_FORMAT

# The team's shared data folder sits beside the repository; a clone elsewhere finds it at /work.
SAMPLE = next(
    (
        folder / "shared" / "data" / "twcs-sample.csv"
        for folder in (Path(__file__).resolve().parents[3], Path("/work"))
        if (folder / "shared" / "data" / "twcs-sample.csv").exists()
    ),
    Path("shared/data/twcs-sample.csv"),
)


def expected_counts(path: Path) -> tuple[int, int]:
    """Customers and conversations by the threading rules, worked out from the CSV alone:
    every inbound author is a customer; an inbound tweet joins its parent's conversation when
    that conversation is the same author's, else starts one; a brand tweet starts none."""
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    rows.sort(key=lambda r: (datetime.strptime(r["created_at"], TIME_FORMAT), r["tweet_id"]))
    conversation_of: dict[str, int] = {}
    owner_of: list[str] = []
    for row in rows:
        parent = row["in_response_to_tweet_id"] or None
        if row["inbound"] == "TRUE":
            if parent in conversation_of and owner_of[conversation_of[parent]] == row["author_id"]:
                conversation_of[row["tweet_id"]] = conversation_of[parent]
            else:
                conversation_of[row["tweet_id"]] = len(owner_of)
                owner_of.append(row["author_id"])
        elif parent in conversation_of:
            conversation_of[row["tweet_id"]] = conversation_of[parent]
    customers = {row["author_id"] for row in rows if row["inbound"] == "TRUE"}
    return len(customers), len(owner_of)


def stored_counts(settings: Settings) -> tuple[int, int, int]:
    """Customers registered, conversations started, and the head position of the store."""
    application = build_application(settings)
    try:
        topics = [n.topic for n in application.recorder.select_notifications(start=1, limit=1_000_000)]
        head = application.head_position
    finally:
        application.close()
    return (
        topics.count("domain.customer:Customer.Registered"),
        topics.count("domain.conversation:Conversation.Started"),
        head,
    )


@pytest.fixture
def run_import(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    if not SAMPLE.exists():
        pytest.skip(f"the shared sample is not at {SAMPLE}")
    monkeypatch.setenv("CONVERSA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CONVERSA_DATA_DIR", str(settings.data_dir))
    return CliRunner()


def test_importing_the_sample_twice_gives_the_customers_and_conversations_of_the_csv_once(
    run_import: CliRunner, settings: Settings
) -> None:
    customers, conversations = expected_counts(SAMPLE)

    first = run_import.invoke(main, ["import", "twcs", str(SAMPLE)])
    after_first = stored_counts(settings)
    second = run_import.invoke(main, ["import", "twcs", str(SAMPLE)])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert after_first[:2] == (customers, conversations)
    assert stored_counts(settings) == after_first  # nothing new at all the second time
    assert "0 created" in second.output and "0 duplicate" not in second.output


def test_a_brand_import_takes_only_the_threads_that_brand_answered(run_import: CliRunner, settings: Settings) -> None:
    result = run_import.invoke(main, ["import", "twcs", str(SAMPLE), "--brand", "sprintcare"])

    assert result.exit_code == 0, result.output
    customers, conversations, _ = stored_counts(settings)
    everything_customers, everything_conversations = expected_counts(SAMPLE)
    assert 0 < customers < everything_customers
    assert 0 < conversations < everything_conversations
