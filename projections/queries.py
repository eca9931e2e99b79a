"""Reading the views: keyset-paginated lists that follow their indexes, never OFFSET."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from domain.personal_data import FORGOTTEN
from projections.database import Row, Transaction, ViewDatabase
from projections.page import iso
from projections.schema import Tables, live_generation, tracked_position

RETRACTED = "[retracted]"
WAIT_INTERVAL_SECONDS = 0.02


@dataclass(frozen=True)
class ListPage:
    """One page of a list view: its rows and the sort key its next page starts after."""

    items: list[dict[str, Any]]
    next_cursor: list[Any] | None


def _like(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _page(
    rows: list[Row], limit: int, shape: Callable[[Row], dict[str, Any]], key: Callable[[Row], list[Any]]
) -> ListPage:
    """Rows were fetched with limit + 1: the extra one only says whether there is a next page."""
    more = len(rows) > limit
    rows = rows[:limit]
    return ListPage([shape(row) for row in rows], key(rows[-1]) if more and rows else None)


def _breached(due: str | None, done_at: str | None, now: str) -> bool:
    return due is not None and (done_at > due if done_at is not None else now > due)


class Views:
    """Queries over the live generation of the read models."""

    def __init__(self, database: ViewDatabase) -> None:
        self.database = database

    def _reading(self, query: Callable[[Transaction, Tables], Any]) -> Any:
        with self.database.transaction(write=False) as tx:
            generation = live_generation(tx)
            if generation is None:
                raise ViewsNotReadyError("the projector has not created the views yet")
            return query(tx, Tables(generation))

    # ---- consistency ----------------------------------------------------------------------------

    def position(self) -> int:
        def read(tx: Transaction, tables: Tables) -> int:
            return tracked_position(tx, tables.generation) or 0

        try:
            return int(self._reading(read))
        except ViewsNotReadyError:
            return 0

    def wait_for(self, position: int, timeout_seconds: float) -> bool:
        """Wait until the views have passed a position; False when the time is up."""
        deadline = time.monotonic() + timeout_seconds
        while self.position() < position:
            if time.monotonic() >= deadline:
                return False
            time.sleep(WAIT_INTERVAL_SECONDS)
        return True

    # ---- customers ------------------------------------------------------------------------------

    def customers(
        self, q: str | None, tag: str | None, include_inactive: bool, limit: int, after: list[Any] | None
    ) -> ListPage:
        def read(tx: Transaction, t: Tables) -> ListPage:
            where, params = [], []
            if not include_inactive:
                where.append("active = 1")
            if q:
                where.append("search_text LIKE ? ESCAPE '\\'")
                params.append(_like(q))
            if tag:
                where.append(f"id IN (SELECT customer_id FROM {t.customer_tags} WHERE tag = ?)")
                params.append(tag)
            if after:
                where.append("(sort_name, id) > (?, ?)")
                params += after
            sql = f"SELECT sort_name, id, state FROM {t.customers}"
            sql += (" WHERE " + " AND ".join(where)) if where else ""
            rows = tx.query(sql + " ORDER BY sort_name, id LIMIT ?", [*params, limit + 1])
            return _page(rows, limit, lambda r: _customer_row(orjson.loads(r[2])), lambda r: [r[0], r[1]])

        result: ListPage = self._reading(read)
        return result

    def profile(self, customer_id: str) -> dict[str, Any] | None:
        def read(tx: Transaction, t: Tables) -> dict[str, Any] | None:
            rows = tx.query(f"SELECT state, is_advocate FROM {t.customers} WHERE id = ?", (customer_id,))
            return _profile(orjson.loads(rows[0][0]), bool(rows[0][1])) if rows else None

        result: dict[str, Any] | None = self._reading(read)
        return result

    def advocates(
        self,
        min_score: int | None,
        channel: str | None,
        consenting_only: bool,
        limit: int,
        after: list[Any] | None,
    ) -> ListPage:
        def read(tx: Transaction, t: Tables) -> ListPage:
            where: list[str] = ["is_advocate = 1"]
            params: list[Any] = []
            if consenting_only:
                where.append("marketing_consent = 1")
            if min_score is not None:
                where.append("advocacy >= ?")
                params.append(min_score)
            if channel:
                where.append(f"id IN (SELECT customer_id FROM {t.customer_channels} WHERE channel = ?)")
                params.append(channel)
            if after:
                where.append("(advocacy, id) < (?, ?)")
                params += after
            rows = tx.query(
                f"SELECT advocacy, id, state FROM {t.customers} WHERE {' AND '.join(where)} "
                "ORDER BY advocacy DESC, id DESC LIMIT ?",
                [*params, limit + 1],
            )
            return _page(rows, limit, lambda r: _advocate_row(orjson.loads(r[2])), lambda r: [r[0], r[1]])

        result: ListPage = self._reading(read)
        return result

    # ---- conversations --------------------------------------------------------------------------

    def inbox(self, filters: dict[str, Any], now: datetime, limit: int, after: list[Any] | None) -> ListPage:
        def read(tx: Transaction, t: Tables) -> ListPage:
            where, params = [], []
            for column in ("status", "channel", "kind", "priority", "customer_id"):
                if filters.get(column) is not None:
                    where.append(f"c.{column} = ?")
                    params.append(str(filters[column]))
            if filters.get("assignee") is not None:
                where.append("c.assignee_id = ?")
                params.append(str(filters["assignee"]))
            if after:
                where.append("(c.last_activity_at, c.id) < (?, ?)")
                params += after
            sql = (
                f"SELECT c.last_activity_at, c.id, c.state, u.name, u.forgotten FROM {t.conversations} c "
                f"LEFT JOIN {t.customers} u ON u.id = c.customer_id"
            )
            sql += (" WHERE " + " AND ".join(where)) if where else ""
            rows = tx.query(sql + " ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?", [*params, limit + 1])
            stamp = iso(now)
            return _page(
                rows, limit, lambda r: _inbox_row(orjson.loads(r[2]), r[3], bool(r[4]), stamp), lambda r: [r[0], r[1]]
            )

        result: ListPage = self._reading(read)
        return result

    def unresolved_complaints(
        self, assignee: str | None, breached: bool | None, now: datetime, limit: int, after: list[Any] | None
    ) -> ListPage:
        stamp = iso(now)
        # Never NULL (a complaint without an inbound message has no targets yet), so NOT works.
        breach = (
            "(c.replied_late = 1"
            " OR (c.replied = 0 AND c.first_response_due_at IS NOT NULL AND c.first_response_due_at < ?)"
            " OR (c.resolution_due_at IS NOT NULL AND c.resolution_due_at < ?))"
        )

        def read(tx: Transaction, t: Tables) -> ListPage:
            where, params = ["c.kind = 'complaint'", "c.status <> 'resolved'"], []
            if assignee is not None:
                where.append("c.assignee_id = ?")
                params.append(assignee)
            if breached is not None:
                where.append(breach if breached else f"NOT {breach}")
                params += [stamp, stamp]
            if after:
                where.append("(c.next_due_at, c.id) > (?, ?)")
                params += after
            rows = tx.query(
                f"SELECT c.next_due_at, c.id, c.state, u.name, u.forgotten FROM {t.conversations} c "
                f"LEFT JOIN {t.customers} u ON u.id = c.customer_id WHERE {' AND '.join(where)} "
                "ORDER BY c.next_due_at, c.id LIMIT ?",
                [*params, limit + 1],
            )
            return _page(
                rows,
                limit,
                lambda r: _complaint_row(orjson.loads(r[2]), r[3], bool(r[4]), stamp),
                lambda r: [r[0], r[1]],
            )

        result: ListPage = self._reading(read)
        return result

    # ---- contributions --------------------------------------------------------------------------

    def contributions(
        self, kind: str | None, status: str | None, sort: str, limit: int, after: list[Any] | None
    ) -> ListPage:
        order_column = "endorsements" if sort == "top" else "submitted_at"

        def read(tx: Transaction, t: Tables) -> ListPage:
            where, params = [], []
            if kind:
                where.append("b.kind = ?")
                params.append(kind)
            if status:
                where.append("b.status = ?")
                params.append(status)
            if after:
                where.append(f"(b.{order_column}, b.id) < (?, ?)")
                params += after
            sql = (
                f"SELECT b.{order_column}, b.id, b.state, u.name FROM {t.contributions} b "
                f"LEFT JOIN {t.customers} u ON u.id = b.customer_id"
            )
            sql += (" WHERE " + " AND ".join(where)) if where else ""
            rows = tx.query(sql + f" ORDER BY b.{order_column} DESC, b.id DESC LIMIT ?", [*params, limit + 1])
            return _page(rows, limit, lambda r: _contribution_row(orjson.loads(r[2]), r[3]), lambda r: [r[0], r[1]])

        result: ListPage = self._reading(read)
        return result

    # ---- KPIs -----------------------------------------------------------------------------------

    def kpis(self, first_day: date, last_day: date) -> dict[str, Any]:
        """Per day and for the whole range, both ends included."""
        low, high = first_day.isoformat(), last_day.isoformat()

        def read(tx: Transaction, t: Tables) -> dict[str, Any]:
            counts = {
                row[0]: row[1:]
                for row in tx.query(
                    f"SELECT day, inbound, negative, nps_total, nps_promoters, nps_detractors, csat_total, "
                    f"csat_positive FROM {t.kpi_days} WHERE day BETWEEN ? AND ?",
                    (low, high),
                )
            }
            durations: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
            for metric, day, seconds in tx.query(
                f"SELECT metric, day, seconds FROM {t.kpi_durations} WHERE day BETWEEN ? AND ?", (low, high)
            ):
                durations[metric][day].append(float(seconds))
            # Mean happiness of a period: the current happiness of the customers in contact in it.
            moods: dict[str, dict[str, int]] = defaultdict(dict)
            for day, customer_id, score in tx.query(
                f"SELECT k.day, k.customer_id, c.happiness FROM {t.kpi_contacts} k "
                f"JOIN {t.customers} c ON c.id = k.customer_id "
                "WHERE k.day BETWEEN ? AND ? AND c.happiness IS NOT NULL AND c.active = 1",
                (low, high),
            ):
                moods[day][customer_id] = int(score)
            days = [(first_day + timedelta(days=n)).isoformat() for n in range((last_day - first_day).days + 1)]
            series = [
                {"date": day, **_kpi(counts.get(day), durations, list(moods[day].values()), [day])} for day in days
            ]
            everything = [sum(col) for col in zip(*counts.values(), strict=True)] if counts else None
            all_moods = list({c: score for day in days for c, score in moods[day].items()}.values())
            total = {"from": low, "to": high, **_kpi(everything, durations, all_moods, days)}
            return {"total": total, "series": series}

        result: dict[str, Any] = self._reading(read)
        return result


class ViewsNotReadyError(Exception):
    """The views do not exist yet (the projector has not started once)."""


# ---- shaping rows -------------------------------------------------------------------------------


def _customer_row(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": state["id"],
        "name": state["name"],
        "identities": state["identities"],
        "tags": state["tags"],
        "marketing_consent": state["marketing_consent"],
        "happiness": state["happiness"]["score"],
        "advocacy": state["advocacy"]["score"],
        "last_contact_at": state["last_contact_at"],
        "forgotten": state["forgotten"],
        "merged_into": state["merged_into"],
    }


def _profile(state: dict[str, Any], advocate: bool) -> dict[str, Any]:
    conversations = list(state["conversations"].values())
    ratings = [rating for _, rating in state["csat"]]
    return {
        "customer_id": state["id"],
        "name": state["name"],
        "email": state["email"],
        "locale": state["locale"],
        "identities": state["identities"],
        "tags": state["tags"],
        "marketing_consent": state["marketing_consent"],
        "consent_history": state["consent_history"],
        "forgotten": state["forgotten"],
        "merged_into": state["merged_into"],
        "merged_duplicates": state["merged_duplicates"],
        "registered_at": state["registered_at"],
        "conversations": {
            status: sum(1 for c in conversations if c["status"] == status) for status in ("open", "pending", "resolved")
        },
        "open_complaints": sum(1 for c in conversations if c["kind"] == "complaint" and c["status"] != "resolved"),
        "contributions": len(state["contributions"]),
        "last_contact_at": state["last_contact_at"],
        "latest_nps": state["nps"][1] if state["nps"] else None,
        "mean_csat": statistics.fmean(ratings) if ratings else None,
        "happiness": state["happiness"],
        "advocacy": {**state["advocacy"], "is_advocate": advocate},
    }


def _advocate_row(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer_id": state["id"],
        "name": state["name"],
        "advocacy": state["advocacy"]["score"],
        "reasons": state["advocacy"]["reasons"],
        "happiness": state["happiness"]["score"],
        "channels": sorted({i["channel"] for i in state["identities"]}),
        "marketing_consent": state["marketing_consent"],
    }


def _last_message(conversation: dict[str, Any], forgotten: bool) -> dict[str, Any] | None:
    last = conversation["last_message"]
    if last is None:
        return None
    text = FORGOTTEN if forgotten else RETRACTED if last["retracted"] else last["excerpt"]
    return {
        "excerpt": text,
        "direction": last["direction"],
        "sentiment": last["sentiment"],
        "occurred_at": last["occurred_at"],
    }


def _inbox_row(conversation: dict[str, Any], name: str | None, forgotten: bool, now: str) -> dict[str, Any]:
    return {
        "id": conversation["id"],
        "customer_id": conversation["customer_id"],
        "customer_name": name,
        "channel": conversation["channel"],
        "subject": FORGOTTEN if forgotten and conversation["subject"] else conversation["subject"],
        "status": conversation["status"],
        "kind": conversation["kind"],
        "priority": conversation["priority"],
        "assignee": conversation["assignee"],
        "escalated": conversation["escalated"],
        "last_activity_at": conversation["last_activity_at"],
        "last_message": _last_message(conversation, forgotten),
        "first_response_due_at": conversation["first_response_due_at"],
        "first_response_breached": _breached(
            conversation["first_response_due_at"], conversation["first_reply_at"], now
        ),
    }


def _complaint_row(conversation: dict[str, Any], name: str | None, forgotten: bool, now: str) -> dict[str, Any]:
    first_response_breached = _breached(conversation["first_response_due_at"], conversation["first_reply_at"], now)
    resolution_breached = _breached(conversation["resolution_due_at"], None, now)
    opened = conversation["first_inbound_at"] or conversation["started_at"]
    last = _last_message(conversation, forgotten)
    return {
        "conversation_id": conversation["id"],
        "customer_id": conversation["customer_id"],
        "customer_name": name,
        "status": conversation["status"],
        "priority": conversation["priority"],
        "assignee": conversation["assignee"],
        "escalated": conversation["escalated"],
        "opened_at": opened,
        "age_seconds": max(0.0, (datetime.fromisoformat(now) - datetime.fromisoformat(opened)).total_seconds()),
        "first_response_due_at": conversation["first_response_due_at"],
        "first_response_breached": first_response_breached,
        "resolution_due_at": conversation["resolution_due_at"],
        "resolution_breached": resolution_breached,
        "breached": first_response_breached or resolution_breached,
        "last_message_excerpt": last["excerpt"] if last else None,
        "sentiment": last["sentiment"] if last else None,
    }


def _contribution_row(contribution: dict[str, Any], author: str | None) -> dict[str, Any]:
    return {
        "id": contribution["id"],
        "customer_id": contribution["customer_id"],
        "customer_name": author,
        "kind": contribution["kind"],
        "title": contribution["title"],
        "status": contribution["status"],
        "rating": contribution["rating"],
        "endorsements": len(contribution["endorsers"]),
        "rewards": contribution["rewards"],
        "converted": contribution["converted"],
        "submitted_at": contribution["submitted_at"],
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _kpi(
    counts: Any, durations: dict[str, dict[str, list[float]]], moods: list[int], days: list[str]
) -> dict[str, Any]:
    inbound, negative, nps_total, promoters, detractors, csat_total, csat_positive = counts or (0,) * 7
    first_responses = [s for day in days for s in durations["first_response"].get(day, [])]
    resolutions = [s for day in days for s in durations["resolution"].get(day, [])]
    nps_share = _share(promoters - detractors, nps_total)
    csat_share = _share(csat_positive, csat_total)
    return {
        "inbound_volume": inbound,
        "negative_share": _share(negative, inbound),
        "nps": None if nps_share is None else round(100 * nps_share, 1),
        "nps_responses": nps_total,
        "csat": None if csat_share is None else round(100 * csat_share, 1),
        "csat_responses": csat_total,
        "median_first_response_seconds": statistics.median(first_responses) if first_responses else None,
        "median_resolution_seconds": statistics.median(resolutions) if resolutions else None,
        "mean_happiness": round(statistics.fmean(moods), 1) if moods else None,
    }
