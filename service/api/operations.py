"""Operations: liveness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from service.http import Blueprint
from service.runtime import application, views
from service.schemas.views import Readiness

blp = Blueprint("operations", __name__, url_prefix="", description="Health of the service")


class Health(Schema):
    status = fields.String(metadata={"enum": ["ok"]})


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.doc(security=[])
    @blp.response(200, Health)
    def get(self) -> Any:
        """Liveness: the process answers (no database call, so a slow database never kills it)."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.doc(security=[])
    @blp.response(200, Readiness)
    def get(self) -> Any:
        """Readiness: the store answers; how far the views lag behind it (503 when the store is down)."""
        head = application().head_position
        position = views().position()
        return {
            "status": "ready",
            "head": head,
            "views": {"views": {"position": position}},
            "lag": max(0, head - position),
        }
