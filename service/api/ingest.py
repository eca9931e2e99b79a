"""Batch ingest for channel connectors: messages in, customers and conversations found or made."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask.views import MethodView

from service.auth import current_actor, requires
from service.http import HEADER_DOCS, POSITION_HEADER, Blueprint
from service.runtime import application
from service.schemas import ingest as s

blp = Blueprint("ingest", __name__, url_prefix="/v1/ingest", description="Batch ingest of channel messages")


@blp.route("/messages")
class IngestMessages(MethodView):
    @requires("ingest:write")
    @blp.arguments(s.IngestRequest)
    @blp.response(200, s.IngestResponse, headers={POSITION_HEADER: HEADER_DOCS[POSITION_HEADER]})
    def post(self, data: dict[str, Any]) -> Any:
        """Record up to 1,000 channel messages: one result each (created, duplicate, pending, ignored, rejected).

        Idempotent by channel and external id. Threads by reply chain whatever the order the
        messages come in; one bad message never rejects the others.
        """
        items = data["messages"]
        valid = {i: item for i, item in enumerate(items) if not isinstance(item, s.Invalid)}
        ingested = application().ingest_messages(list(valid.values()), current_actor())
        outcomes = dict(zip(valid, ingested.outcomes, strict=True))
        results = [
            {"index": i, **vars(outcomes[i] if i in outcomes else items[i].outcome())} for i in range(len(items))
        ]
        headers = {POSITION_HEADER: str(ingested.position)} if ingested.position is not None else {}
        return {"results": results, "counts": Counter(r["status"] for r in results)}, 200, headers
