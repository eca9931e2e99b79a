"""Operations: liveness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

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
