"""Applying one page of events to the read models, inside the page's transaction.

The rows a page touches are loaded once, changed in memory event by event, and written back
with one statement per table: that batching is what makes catch-up and rebuilds fast. Every
decision depends on the events alone, so a live view equals one rebuilt from position 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from domain.customer import PERSONAL_PROFILE_FIELDS, identity_key
from domain.personal_data import FORGOTTEN, revealed
from domain.scores import (
    NEGATIVE_COMPOUND,
    ContributionFacts,
    CustomerFacts,
    HappinessWeights,
    advocacy,
    happiness,
    is_advocate,
)
from domain.targets import ResponseTargets
from projections.database import Transaction
from projections.schema import Tables

State = dict[str, Any]
LOAD_CHUNK = 500
EXCERPT_LENGTH = 140


def iso(moment: datetime) -> str:
    """Fixed-width UTC text, so that timestamps sort as strings on both engines."""
    text = moment.isoformat(timespec="microseconds")
    if not text.endswith("+00:00"):  # stored events are in UTC already; this is the rare case
        text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return text[:-6] + "Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _dump(state: State) -> str:
    # orjson: the states are read and written for every row a page touches, and the standard
    # library's json took a fifth of a rebuild's time.
    return orjson.dumps(state).decode()


def excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[: EXCERPT_LENGTH - 1] + "…"


def _insort(items: list[list[Any]], item: list[Any]) -> bool:
    """Insert keeping occurred order; True when it went to the end (the usual, in-order case)."""
    position = len(items)
    while position and items[position - 1][0] > item[0]:
        position -= 1
    items.insert(position, item)
    return position == len(items) - 1


@dataclass
class Known:
    """Rows as the previous pages wrote them, kept in memory by a rebuild (the only writer of its
    generation) so that the next page need not read them back."""

    customers: dict[str, State] = field(default_factory=dict)
    conversations: dict[str, State] = field(default_factory=dict)
    contributions: dict[str, State] = field(default_factory=dict)
    complete: bool = False  # holds every row there is: one it lacks does not exist yet


class Page:
    """The changes one page of events makes to every view."""

    def __init__(
        self,
        tables: Tables,
        targets: ResponseTargets,
        weights: HappinessWeights,
        known: Known | None = None,
    ) -> None:
        self.tables = tables
        self.targets = targets
        self.weights = weights
        known = known or Known()
        self.complete = known.complete
        self.customers = known.customers
        self.conversations = known.conversations
        self.contributions = known.contributions
        self.touched_customers: set[str] = set()
        self.touched_conversations: set[str] = set()
        self.touched_contributions: set[str] = set()
        self.merged_conversations: set[str] = set()  # taken in by another conversation: no row any more
        self.relabelled: set[str] = set()  # customers whose tags or identities changed
        self.contacts: set[tuple[str, str]] = set()
        self.day_counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.durations: dict[tuple[str, str], tuple[str, float] | None] = {}  # None: no longer measured

    # ---- loading --------------------------------------------------------------------------------

    def _load(self, tx: Transaction, table: str, ids: Iterable[str], into: dict[str, State]) -> None:
        missing = sorted({i for i in ids if i not in into})
        for start in range(0, len(missing), LOAD_CHUNK):
            chunk = missing[start : start + LOAD_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row_id, state in tx.query(f"SELECT id, state FROM {table} WHERE id IN ({marks})", chunk):
                into[row_id] = orjson.loads(state)

    def load_for(self, tx: Transaction, events: Sequence[Any]) -> None:
        """Load every row the events touch, in three queries per table at most."""
        if self.complete:
            return
        by_kind: dict[str, set[str]] = defaultdict(set)
        for event in events:
            by_kind[type(event).__qualname__.split(".")[0]].add(str(event.originator_id))
        self._load(tx, self.tables.conversations, by_kind["Conversation"], self.conversations)
        self._load(tx, self.tables.contributions, by_kind["Contribution"], self.contributions)
        customer_ids = set(by_kind["Customer"])
        customer_ids |= {c["customer_id"] for c in self.conversations.values()}
        customer_ids |= {c["customer_id"] for c in self.contributions.values()}
        for event in events:
            for name in ("customer_id", "survivor_id", "duplicate_id"):
                if hasattr(event, name):
                    customer_ids.add(str(getattr(event, name)))
        self._load(tx, self.tables.customers, customer_ids, self.customers)
        # Forgetting a customer also blanks the texts of their conversations and contributions.
        forgotten = [self.customers[i] for i in forgotten_customer_ids(events) if i in self.customers]
        self._load(
            tx, self.tables.conversations, {c for f in forgotten for c in f["conversations"]}, self.conversations
        )
        self._load(
            tx, self.tables.contributions, {c for f in forgotten for c in f["contributions"]}, self.contributions
        )

    # ---- applying -------------------------------------------------------------------------------

    def apply(self, events: Sequence[Any]) -> None:
        for event in events:
            handler = HANDLERS.get(type(event).__qualname__)
            if handler is not None:
                handler(self, event)

    def _customer(self, customer_id: Any) -> State | None:
        customer = self.customers.get(str(customer_id))
        if customer is not None:
            self.touched_customers.add(customer["id"])
        return customer

    def _conversation(self, conversation_id: Any) -> State | None:
        conversation = self.conversations.get(str(conversation_id))
        if conversation is not None:
            self.touched_conversations.add(conversation["id"])
        return conversation

    def _contribution(self, contribution_id: Any) -> State | None:
        contribution = self.contributions.get(str(contribution_id))
        if contribution is not None:
            self.touched_contributions.add(contribution["id"])
        return contribution

    # ---- writing --------------------------------------------------------------------------------

    def flush(self, tx: Transaction) -> None:
        """Write every touched row back, then the KPI counters."""
        self.tx = tx
        self.touched_conversations -= self.merged_conversations
        for conversation_id in self.touched_conversations:
            _sync_conversation_summary(self, self.conversations[conversation_id])
        for contribution_id in self.touched_contributions:
            _sync_contribution_summary(self, self.contributions[contribution_id])
        self._write_conversations()
        self.tx.executemany(
            f"DELETE FROM {self.tables.conversations} WHERE id = ?", [(i,) for i in sorted(self.merged_conversations)]
        )
        self._write_contributions()
        self._write_customers()
        self._write_kpis()

    def _write_conversations(self) -> None:
        rows = []
        for conversation_id in sorted(self.touched_conversations):
            c = self.conversations[conversation_id]
            rows.append(
                (
                    c["id"],
                    c["customer_id"],
                    c["channel"],
                    c["status"],
                    c["kind"],
                    c["priority"],
                    (c["assignee"] or {}).get("id"),
                    c["last_activity_at"],
                    c["first_response_due_at"],
                    c["resolution_due_at"],
                    int(c["first_reply_at"] is not None),
                    int(bool(c["replied_late"])),
                    next_due_at(c),
                    _dump(c),
                )
            )
        self.tx.executemany(
            f"""INSERT INTO {self.tables.conversations} (id, customer_id, channel, status, kind, priority,
                assignee_id, last_activity_at, first_response_due_at, resolution_due_at, replied, replied_late,
                next_due_at, state)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, channel = excluded.channel,
                status = excluded.status, kind = excluded.kind, priority = excluded.priority,
                assignee_id = excluded.assignee_id, last_activity_at = excluded.last_activity_at,
                first_response_due_at = excluded.first_response_due_at,
                resolution_due_at = excluded.resolution_due_at, replied = excluded.replied,
                replied_late = excluded.replied_late, next_due_at = excluded.next_due_at, state = excluded.state""",
            rows,
        )

    def _write_contributions(self) -> None:
        rows = [
            (c["id"], c["customer_id"], c["kind"], c["status"], len(c["endorsers"]), c["submitted_at"], _dump(c))
            for c in (self.contributions[i] for i in sorted(self.touched_contributions))
        ]
        self.tx.executemany(
            f"""INSERT INTO {self.tables.contributions}
                (id, customer_id, kind, status, endorsements, submitted_at, state)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, endorsements = excluded.endorsements,
                state = excluded.state""",
            rows,
        )

    def _write_customers(self) -> None:
        rows, tag_ids, tags, channels = [], [], [], []
        for customer_id in sorted(self.touched_customers):
            c = self.customers[customer_id]
            scores = customer_scores(c, self.weights)
            c["happiness"] = scores["happiness"]
            c["advocacy"] = scores["advocacy"]
            active = c["merged_into"] is None and not c["forgotten"]
            advocate = is_advocate(scores["advocacy"]["score"], scores["happiness"]["score"], active)
            handles = " ".join(i["handle"] for i in c["identities"])
            rows.append(
                (
                    customer_id,
                    c["name"],
                    c["name"].casefold(),
                    f"{c['name']} {handles} {c['email'] or ''}".casefold(),
                    int(c["marketing_consent"]),
                    int(active),
                    int(c["forgotten"]),
                    scores["advocacy"]["score"],
                    scores["happiness"]["score"],
                    int(advocate),
                    c["last_contact_at"],
                    _dump(c),
                )
            )
            if customer_id in self.relabelled:
                tag_ids.append((customer_id,))
                tags += [(tag, customer_id) for tag in c["tags"]]
                channels += [(channel, customer_id) for channel in sorted({i["channel"] for i in c["identities"]})]
        self.tx.executemany(
            f"""INSERT INTO {self.tables.customers} (id, name, sort_name, search_text, marketing_consent, active,
                forgotten, advocacy, happiness, is_advocate, last_contact_at, state)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, sort_name = excluded.sort_name,
                search_text = excluded.search_text, marketing_consent = excluded.marketing_consent,
                active = excluded.active, forgotten = excluded.forgotten, advocacy = excluded.advocacy,
                happiness = excluded.happiness, is_advocate = excluded.is_advocate,
                last_contact_at = excluded.last_contact_at, state = excluded.state""",
            rows,
        )
        self.tx.executemany(f"DELETE FROM {self.tables.customer_tags} WHERE customer_id = ?", tag_ids)
        self.tx.executemany(f"DELETE FROM {self.tables.customer_channels} WHERE customer_id = ?", tag_ids)
        self.tx.executemany(f"INSERT INTO {self.tables.customer_tags} (tag, customer_id) VALUES (?, ?)", tags)
        self.tx.executemany(
            f"INSERT INTO {self.tables.customer_channels} (channel, customer_id) VALUES (?, ?)", channels
        )

    def _write_kpis(self) -> None:
        columns = ("inbound", "negative", "nps_total", "nps_promoters", "nps_detractors", "csat_total", "csat_positive")
        rows = [(day, *(counts[c] for c in columns)) for day, counts in sorted(self.day_counts.items())]
        # Counters add up across pages; the other KPI tables are keyed so that a later page replaces.
        additions = ", ".join(f"{c} = {self.tables.kpi_days}.{c} + excluded.{c}" for c in columns)
        self.tx.executemany(
            f"""INSERT INTO {self.tables.kpi_days} (day, {", ".join(columns)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (day) DO UPDATE SET {additions}""",
            rows,
        )
        self.tx.executemany(
            f"""INSERT INTO {self.tables.kpi_durations} (metric, conversation_id, day, seconds) VALUES (?, ?, ?, ?)
            ON CONFLICT (metric, conversation_id) DO UPDATE SET day = excluded.day, seconds = excluded.seconds""",
            [(metric, cid, *measured) for (metric, cid), measured in sorted(self.durations.items()) if measured],
        )
        self.tx.executemany(
            f"DELETE FROM {self.tables.kpi_durations} WHERE metric = ? AND conversation_id = ?",
            [key for key, measured in sorted(self.durations.items()) if measured is None],
        )
        self.tx.executemany(
            f"""INSERT INTO {self.tables.kpi_contacts} (day, customer_id) VALUES (?, ?)
            ON CONFLICT (day, customer_id) DO NOTHING""",
            sorted(self.contacts),
        )


def next_due_at(conversation: State) -> str:
    """The deadline that matters next: the first reply until there is one, then the resolution.

    A conversation without an inbound message has no targets yet; it sorts by when it started.
    """
    due = conversation["first_response_due_at"] if conversation["first_reply_at"] is None else None
    return str(due or conversation["resolution_due_at"] or conversation["started_at"])


# ---- scores -------------------------------------------------------------------------------------


def customer_facts(customer: State) -> CustomerFacts:
    conversations = sorted(customer["conversations"].values(), key=lambda c: (c["started_at"], c["id"]))
    last_ten = conversations[-10:]
    return CustomerFacts(
        inbound_compounds=[compound for _, compound in customer["inbound"]],
        csat_ratings=[rating for _, rating in customer["csat"]],
        latest_nps=customer["nps"][1] if customer["nps"] else None,
        has_conversation=bool(conversations),
        open_complaints=sum(1 for c in conversations if c["kind"] == "complaint" and c["status"] != "resolved"),
        late_first_replies_in_last_10=sum(1 for c in last_ten if c["late"]),
        contributions=[
            ContributionFacts(kind=c["kind"], status=c["status"], rating=c["rating"], converted=c["converted"])
            for c in sorted(customer["contributions"].values(), key=lambda c: (c["submitted_at"], c["id"]))
        ],
        endorsements_received=sum(c["endorsements"] for c in customer["contributions"].values()),
    )


def customer_scores(customer: State, weights: HappinessWeights) -> dict[str, Any]:
    facts = customer_facts(customer)
    mood = happiness(facts, weights)
    support = advocacy(facts)
    return {
        "happiness": {"score": mood.score, "band": mood.band, "components": mood.components},
        "advocacy": {"score": support.score, "reasons": support.reasons},
    }


# ---- handlers: one per event type ---------------------------------------------------------------


def _customer_registered(page: Page, e: Any) -> None:
    customer_id = str(e.originator_id)
    page.customers[customer_id] = {
        "id": customer_id,
        "name": e.name.value,
        "email": revealed(e.email),
        "locale": e.locale,
        "identities": [{"channel": i["channel"], "handle": i["handle"].value} for i in e.identities],
        "tags": [],
        "marketing_consent": False,
        "consent_history": [],
        "registered_at": iso(e.occurred_at),
        "merged_into": None,
        "merged_duplicates": [],
        "forgotten": False,
        "inbound": [],
        "csat": [],
        "nps": None,
        "conversations": {},
        "contributions": {},
        "last_contact_at": None,
    }
    page._customer(customer_id)
    page.relabelled.add(customer_id)


def _customer_change(change: Callable[[State, Any], None], relabels: bool = False) -> Callable[[Page, Any], None]:
    def handle(page: Page, e: Any) -> None:
        customer = page._customer(e.originator_id)
        if customer is not None:
            change(customer, e)
            if relabels:
                page.relabelled.add(customer["id"])

    return handle


def _unlink(customer: State, e: Any) -> None:
    key = identity_key(e.channel, e.handle.value)
    customer["identities"] = [i for i in customer["identities"] if identity_key(i["channel"], i["handle"]) != key]


def _profile_updated(customer: State, e: Any) -> None:
    for name, value in e.changes.items():
        customer[name] = revealed(value) if name in PERSONAL_PROFILE_FIELDS else value


def _consent(given: bool) -> Callable[[State, Any], None]:
    def change(customer: State, e: Any) -> None:
        customer["marketing_consent"] = given
        customer["consent_history"].append(
            {"given": given, "source": e.source, "occurred_at": iso(e.occurred_at), "actor": e.actor}
        )

    return change


def _nps_given(customer: State, e: Any) -> None:
    # The latest answer by when it was given, whatever order the events arrive in.
    if customer["nps"] is None or iso(e.occurred_at) >= customer["nps"][0]:
        customer["nps"] = [iso(e.occurred_at), e.score]


_record_nps = _customer_change(_nps_given)


def forgotten_customer_ids(events: Iterable[Any]) -> set[str]:
    return {str(e.originator_id) for e in events if type(e).__qualname__ == "Customer.Forgotten"}


def _customer_forgotten(page: Page, e: Any) -> None:
    """Blank every personal field the views hold: the customer's and their records' texts."""
    customer = page._customer(e.originator_id)
    if customer is None:
        return
    customer.update(name=FORGOTTEN, email=None, identities=[], forgotten=True, marketing_consent=False)
    customer["consent_history"] = [{**c, "source": None} for c in customer["consent_history"]]
    page.relabelled.add(customer["id"])
    for conversation_id in customer["conversations"]:
        conversation = page._conversation(conversation_id)
        if conversation is not None:
            conversation["subject"] = conversation["subject"] and FORGOTTEN
            if conversation["last_message"] is not None:
                conversation["last_message"]["excerpt"] = FORGOTTEN
    for contribution_id in customer["contributions"]:
        contribution = page._contribution(contribution_id)
        if contribution is not None:
            contribution["title"] = FORGOTTEN


def _nps_kpi(page: Page, e: Any) -> None:  # the KPI counters, then the customer's latest answer
    counts = page.day_counts[iso(e.occurred_at)[:10]]
    counts["nps_total"] += 1
    counts["nps_promoters"] += int(e.score >= 9)
    counts["nps_detractors"] += int(e.score <= 6)
    _record_nps(page, e)


def _conversation_started(page: Page, e: Any) -> None:
    conversation_id = str(e.originator_id)
    started_at = iso(e.occurred_at)
    page.conversations[conversation_id] = {
        "id": conversation_id,
        "customer_id": str(e.customer_id),
        "channel": e.channel,
        "subject": revealed(e.subject),
        "status": "open",
        "kind": None,
        "priority": "medium",
        "assignee": None,
        "escalated": False,
        "started_at": started_at,
        "last_activity_at": started_at,
        "first_inbound_at": None,
        "first_reply_at": None,
        "first_response_due_at": None,
        "resolution_due_at": None,
        "resolved_at": None,
        "last_message": None,
        "message_count": 0,
    }
    page._conversation(conversation_id)
    page._customer(e.customer_id)


def _conversation_change(change: Callable[[Page, State, Any], None]) -> Callable[[Page, Any], None]:
    def handle(page: Page, e: Any) -> None:
        conversation = page._conversation(e.originator_id)
        if conversation is not None:
            change(page, conversation, e)
            page._customer(conversation["customer_id"])

    return handle


def _touch(conversation: State, occurred_at: str) -> None:
    conversation["last_activity_at"] = max(conversation["last_activity_at"], occurred_at)


def _message(page: Page, conversation: State, e: Any, direction: str) -> None:
    sentiment = e.sentiment if direction == "inbound" else None
    _add_message(conversation, e.message_id, direction, e.text.value, sentiment, e.occurred_at)


def _add_message(
    conversation: State, message_id: Any, direction: str, text: str, sentiment: Any, moment: datetime
) -> None:
    occurred_at = iso(moment)
    conversation["message_count"] += 1
    last = conversation["last_message"]
    if last is None or occurred_at >= last["occurred_at"]:
        conversation["last_message"] = {
            "id": str(message_id),
            "direction": direction,
            "excerpt": excerpt(text),
            "sentiment": sentiment["compound"] if direction == "inbound" else None,
            "occurred_at": occurred_at,
            "retracted": False,
        }
    if direction == "inbound":
        if conversation["first_inbound_at"] is None or occurred_at < conversation["first_inbound_at"]:
            conversation["first_inbound_at"] = occurred_at
    elif conversation["first_reply_at"] is None or occurred_at < conversation["first_reply_at"]:
        conversation["first_reply_at"] = occurred_at
    _touch(conversation, occurred_at)


def _message_received(page: Page, conversation: State, e: Any) -> None:
    occurred_at = iso(e.occurred_at)
    compound = e.sentiment["compound"]
    _message(page, conversation, e, "inbound")
    conversation["status"] = "open"
    counts = page.day_counts[occurred_at[:10]]
    counts["inbound"] += 1
    counts["negative"] += int(compound <= NEGATIVE_COMPOUND)
    page.contacts.add((occurred_at[:10], conversation["customer_id"]))
    customer = page._customer(conversation["customer_id"])
    if customer is not None:
        _insort(customer["inbound"], [occurred_at, compound])
        customer["last_contact_at"] = max(customer["last_contact_at"] or "", occurred_at)


def _reply_sent(page: Page, conversation: State, e: Any) -> None:
    occurred_at = iso(e.occurred_at)
    _message(page, conversation, e, "outbound")
    conversation["status"] = "pending"
    customer = page._customer(conversation["customer_id"])
    if customer is not None:
        customer["last_contact_at"] = max(customer["last_contact_at"] or "", occurred_at)


def _classified(page: Page, conversation: State, e: Any) -> None:
    conversation["kind"] = e.kind


def _priority_changed(page: Page, conversation: State, e: Any) -> None:
    conversation["priority"] = e.priority


def _assigned(page: Page, conversation: State, e: Any) -> None:
    conversation["assignee"] = {"id": str(e.agent_id), "name": e.agent_name}


def _unassigned(page: Page, conversation: State, e: Any) -> None:
    conversation["assignee"] = None


def _escalated(page: Page, conversation: State, e: Any) -> None:
    conversation["escalated"] = True


def _resolved(page: Page, conversation: State, e: Any) -> None:
    resolved_at = iso(e.occurred_at)
    conversation["status"] = "resolved"
    conversation["resolved_at"] = resolved_at
    _touch(conversation, resolved_at)
    start = parse_iso(conversation["first_inbound_at"] or conversation["started_at"])
    seconds = max(0.0, (e.occurred_at - start).total_seconds())
    page.durations[("resolution", conversation["id"])] = (resolved_at[:10], seconds)


def _reopened(page: Page, conversation: State, e: Any) -> None:
    conversation["status"] = "open"
    conversation["resolved_at"] = None
    _touch(conversation, iso(e.occurred_at))


def _satisfaction_rated(page: Page, conversation: State, e: Any) -> None:
    occurred_at = iso(e.occurred_at)
    counts = page.day_counts[occurred_at[:10]]
    counts["csat_total"] += 1
    counts["csat_positive"] += int(e.rating >= 4)
    customer = page._customer(conversation["customer_id"])
    if customer is not None:
        _insort(customer["csat"], [occurred_at, e.rating])


def _absorbed(page: Page, conversation: State, e: Any) -> None:
    """Messages counted once already, where they were first recorded: only the thread changes."""
    for m in e.messages:
        _add_message(conversation, m["id"], m["direction"], m["text"].value, m["sentiment"], m["occurred_at"])
    latest = conversation["last_message"]
    if conversation["status"] != "resolved" and latest is not None:
        conversation["status"] = "open" if latest["direction"] == "inbound" else "pending"


def _merged_into(page: Page, conversation: State, e: Any) -> None:
    page.merged_conversations.add(conversation["id"])
    customer = page._customer(conversation["customer_id"])
    if customer is not None:
        customer["conversations"].pop(conversation["id"], None)
    for metric in ("first_response", "resolution"):
        page.durations[(metric, conversation["id"])] = None


def _message_retracted(page: Page, conversation: State, e: Any) -> None:
    last = conversation["last_message"]
    if last is not None and last["id"] == str(e.message_id):
        last["retracted"] = True


def _sync_conversation_summary(page: Page, conversation: State) -> None:
    """Derived times, the first-response KPI, and the customer's summary of the conversation."""
    first_inbound = parse_iso(conversation["first_inbound_at"]) if conversation["first_inbound_at"] else None
    due = page.targets.first_response_due(first_inbound, conversation["priority"])
    resolution_due = page.targets.resolution_due(first_inbound)
    conversation["first_response_due_at"] = iso(due) if due else None
    conversation["resolution_due_at"] = iso(resolution_due) if resolution_due else None
    late = None
    if first_inbound is not None and conversation["first_reply_at"] is not None:
        first_reply = parse_iso(conversation["first_reply_at"])
        late = due is not None and first_reply > due
        if first_reply >= first_inbound:
            seconds = (first_reply - first_inbound).total_seconds()
            page.durations[("first_response", conversation["id"])] = (conversation["first_reply_at"][:10], seconds)
        else:  # an earlier inbound message arrived late: the reply no longer answers the first one
            page.durations[("first_response", conversation["id"])] = None
    conversation["replied_late"] = late
    customer = page._customer(conversation["customer_id"])
    if customer is not None:
        customer["conversations"][conversation["id"]] = {
            "id": conversation["id"],
            "started_at": conversation["started_at"],
            "kind": conversation["kind"],
            "status": conversation["status"],
            "late": late,
        }


def _contribution_submitted(page: Page, e: Any) -> None:
    contribution_id = str(e.originator_id)
    page.contributions[contribution_id] = {
        "id": contribution_id,
        "customer_id": str(e.customer_id),
        "kind": e.kind,
        "title": e.title.value,
        "rating": e.rating,
        "status": "submitted",
        "endorsers": [],
        "rewards": 0,
        "converted": False,
        "submitted_at": iso(e.occurred_at),
    }
    page._contribution(contribution_id)


def _contribution_change(change: Callable[[State, Any], None]) -> Callable[[Page, Any], None]:
    def handle(page: Page, e: Any) -> None:
        contribution = page._contribution(e.originator_id)
        if contribution is not None:
            change(contribution, e)

    return handle


def _sync_contribution_summary(page: Page, contribution: State) -> None:
    customer = page._customer(contribution["customer_id"])
    if customer is not None:
        customer["contributions"][contribution["id"]] = {
            "id": contribution["id"],
            "kind": contribution["kind"],
            "status": contribution["status"],
            "rating": contribution["rating"],
            "converted": contribution["converted"],
            "endorsements": len(contribution["endorsers"]),
            "submitted_at": contribution["submitted_at"],
        }


def _set(key: str, value_of: Callable[[Any], Any]) -> Callable[[State, Any], None]:
    def change(state: State, e: Any) -> None:
        state[key] = value_of(e)

    return change


HANDLERS: dict[str, Callable[[Page, Any], None]] = {
    "Customer.Registered": _customer_registered,
    "Customer.IdentityLinked": _customer_change(
        lambda c, e: c["identities"].append({"channel": e.channel, "handle": e.handle.value}), relabels=True
    ),
    "Customer.IdentityUnlinked": _customer_change(_unlink, relabels=True),
    "Customer.ProfileUpdated": _customer_change(_profile_updated),
    "Customer.Tagged": _customer_change(lambda c, e: c["tags"].append(e.tag), relabels=True),
    "Customer.Untagged": _customer_change(lambda c, e: c["tags"].remove(e.tag), relabels=True),
    "Customer.MarketingConsentGiven": _customer_change(_consent(True)),
    "Customer.MarketingConsentWithdrawn": _customer_change(_consent(False)),
    "Customer.NpsGiven": _nps_kpi,
    "Customer.MergedInto": _customer_change(_set("merged_into", lambda e: str(e.survivor_id))),
    "Customer.DuplicateAbsorbed": _customer_change(lambda c, e: c["merged_duplicates"].append(str(e.duplicate_id))),
    "Customer.Forgotten": _customer_forgotten,
    "Conversation.Started": _conversation_started,
    "Conversation.MessageReceived": _conversation_change(_message_received),
    "Conversation.ReplySent": _conversation_change(_reply_sent),
    "Conversation.Classified": _conversation_change(_classified),
    "Conversation.PriorityChanged": _conversation_change(_priority_changed),
    "Conversation.Assigned": _conversation_change(_assigned),
    "Conversation.Unassigned": _conversation_change(_unassigned),
    "Conversation.Escalated": _conversation_change(_escalated),
    "Conversation.Resolved": _conversation_change(_resolved),
    "Conversation.Reopened": _conversation_change(_reopened),
    "Conversation.SatisfactionRated": _conversation_change(_satisfaction_rated),
    "Conversation.MessageRetracted": _conversation_change(_message_retracted),
    "Conversation.Absorbed": _conversation_change(_absorbed),
    "Conversation.MergedInto": _conversation_change(_merged_into),
    "Contribution.Submitted": _contribution_submitted,
    "Contribution.Endorsed": _contribution_change(lambda c, e: c["endorsers"].append(str(e.customer_id))),
    "Contribution.StatusChanged": _contribution_change(_set("status", lambda e: e.status)),
    "Contribution.Rewarded": _contribution_change(lambda c, e: c.update(rewards=c["rewards"] + 1)),
    "Contribution.ReferralConverted": _contribution_change(_set("converted", lambda e: True)),
}
