"""Customer-centric views: advocates for marketing, unresolved complaints for support, KPIs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Response, request, stream_with_context
from flask.views import MethodView

from projections.queries import ListPage
from service.auth import current_agent, requires
from service.consistency import await_views
from service.http import Blueprint
from service.pagination import encode_cursor
from service.runtime import views
from service.schemas import views as s

blp = Blueprint("views", __name__, url_prefix="/v1", description="Advocates, unresolved complaints and KPIs")

CSV_COLUMNS = ("customer_id", "name", "advocacy", "happiness", "channels", "marketing_consent", "reasons")
CSV_PAGE = 500


def listing(page: ListPage) -> dict[str, Any]:
    return {"items": page.items, "next_cursor": encode_cursor(page.next_cursor) if page.next_cursor else None}


def _cell(value: Any) -> Any:
    # Spreadsheets run cells that start with these as formulas: keep names inert (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _advocates_csv(args: dict[str, Any]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    after = None
    while True:
        page = views().advocates(args.get("min_score"), args.get("channel"), True, CSV_PAGE, after)
        for row in page.items:
            writer.writerow(
                _cell(x)
                for x in (
                    row["customer_id"],
                    row["name"],
                    row["advocacy"],
                    row["happiness"],
                    ";".join(row["channels"]),
                    row["marketing_consent"],
                    " | ".join(row["reasons"]),
                )
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if page.next_cursor is None:
            return
        after = page.next_cursor


def _wants_csv(args: dict[str, Any]) -> bool:
    if args.get("format"):
        return bool(args["format"] == "csv")
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


@blp.route("/advocates")
class AdvocateList(MethodView):
    @requires("customers:read")
    @blp.arguments(s.AdvocateArgs, location="query")
    @blp.response(200, s.Advocates)
    @blp.doc(
        responses={
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Advocates"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
    )
    def get(self, args: dict[str, Any]) -> Any:
        """Advocates ranked by advocacy, with reasons; as CSV with Accept: text/csv or format=csv.

        The marketing role and every CSV export see only customers who gave marketing consent.
        """
        await_views(args.get("min_position"))
        if _wants_csv(args):
            return Response(
                stream_with_context(_advocates_csv(args)),
                mimetype="text/csv",
                headers={"Content-Disposition": 'attachment; filename="advocates.csv"'},
            )
        consenting_only = current_agent().role == "marketing"
        page = views().advocates(
            args.get("min_score"), args.get("channel"), consenting_only, args["limit"], args["cursor"]
        )
        return listing(page)


@blp.route("/complaints/unresolved")
class UnresolvedComplaints(MethodView):
    @requires("conversations:read")
    @blp.arguments(s.ComplaintArgs, location="query")
    @blp.response(200, s.Complaints)
    def get(self, args: dict[str, Any]) -> Any:
        """Complaints not resolved, the next deadline first (so those past it lead)."""
        await_views(args.get("min_position"))
        assignee = str(args["assignee"]) if args.get("assignee") else None
        page = views().unresolved_complaints(
            assignee, args.get("breached"), datetime.now(UTC), args["limit"], args["cursor"]
        )
        return listing(page)


@blp.route("/kpis")
class Kpis(MethodView):
    @requires("customers:read")
    @blp.arguments(s.KpiArgs, location="query")
    @blp.response(200, s.Kpis)
    def get(self, args: dict[str, Any]) -> Any:
        """Volume, negative share, NPS, CSAT, response and resolution times, happiness: per day and in total."""
        await_views(args.get("min_position"))
        return views().kpis(args["from_"], args["to"])
