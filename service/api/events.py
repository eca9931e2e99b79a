"""The event feed: integration events in log order, for other systems to follow."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from projections.integration_events import FeedPage
from service.auth import requires
from service.http import Blueprint
from service.runtime import integration_feed
from service.schemas import integration_events as s

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/v1/events",
    description="Integration events in log order (see docs/integration.md); webhooks send the same items",
)


def feed_body(page: FeedPage) -> bytes:
    """The page as JSON, built around each item's own bytes: a webhook sends exactly those bytes."""
    items = b",".join(item.body for item in page.items)
    more = b"true" if page.has_more else b"false"
    return b'{"items":[' + items + b'],"next_after":' + str(page.next_after).encode() + b',"has_more":' + more + b"}"


@blp.route("")
class EventFeed(MethodView):
    @requires("events:read")
    @blp.arguments(s.FeedArgs, location="query")
    @blp.response(200)
    @blp.doc(responses={"200": {"description": "OK", "content": {"application/json": {"schema": s.FEED_PAGE}}}})
    def get(self, args: dict[str, Any]) -> Any:
        """Integration events after a position, oldest first; send next_after as after to read on.

        Ids are log positions: increasing, with gaps where internal events were passed over.
        Deduplicate on the id. Texts read as they are now: "[forgotten]" after an erasure.
        """
        page = integration_feed().read(args["after"], args["limit"], args["type"])
        return Response(feed_body(page), mimetype="application/json")
