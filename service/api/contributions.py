"""Contributions: prosumers' ideas, reviews, answers and referrals, endorsed and rewarded."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

from flask import url_for
from flask.views import MethodView

from service.api.views import listing
from service.auth import current_actor, requires
from service.consistency import await_views
from service.http import Blueprint, answer, changes, expected_version, read
from service.runtime import application, views
from service.schemas import contributions as s
from service.schemas import views as v

blp = Blueprint("contributions", __name__, url_prefix="/v1/contributions", description="Prosumer contributions")


def _location(contribution_id: UUID) -> str:
    return url_for("contributions.Contribution", contribution_id=contribution_id)


@blp.route("")
class Contributions(MethodView):
    @requires("contributions:read")
    @blp.arguments(v.ContributionBoardArgs, location="query")
    @blp.response(200, v.ContributionBoard)
    def get(self, args: dict[str, Any]) -> Any:
        """The contributions board: most endorsed (top) or newest (new) first."""
        await_views(args.get("min_position"))
        cursor = args["cursor"][1:] if args["cursor"] else None
        board = views().contributions(args.get("kind"), args.get("status"), args["sort"], args["limit"], cursor)
        # The cursor names its sort order, so that it cannot be used with the other one.
        next_cursor = [args["sort"], *board.next_cursor] if board.next_cursor else None
        return listing(dataclasses.replace(board, next_cursor=next_cursor))

    @requires("contributions:write")
    @blp.arguments(s.ContributionSubmit)
    @changes(blp, s.Contribution, status=201, creates=True)
    def post(self, data: dict[str, Any]) -> Any:
        """Record a customer's idea, review, answer, referral, content or beta feedback."""
        written = application().submit_contribution(**data, actor=current_actor())
        return answer(written, 201, _location(written.aggregate.id))


@blp.route("/<uuid:contribution_id>")
class Contribution(MethodView):
    @requires("contributions:read")
    @blp.response(200, s.Contribution)
    def get(self, contribution_id: UUID) -> Any:
        """One contribution, read from its own history."""
        return read(application().get_contribution(contribution_id))


@blp.route("/<uuid:contribution_id>/endorsements")
class Endorsements(MethodView):
    @requires("contributions:write")
    @blp.arguments(s.Endorsement)
    @changes(blp, s.Contribution, status=201)
    def post(self, data: dict[str, Any], contribution_id: UUID) -> Any:
        """Another customer endorses the contribution (once each, never its author)."""
        written = application().endorse_contribution(
            contribution_id, data["customer_id"], current_actor(), expected_version()
        )
        return answer(written, 201, _location(contribution_id))


@blp.route("/<uuid:contribution_id>/status")
class Status(MethodView):
    @requires("contributions:curate")
    @blp.arguments(s.StatusChange)
    @changes(blp, s.Contribution)
    def put(self, data: dict[str, Any], contribution_id: UUID) -> Any:
        """Move along submitted → under_review → accepted → implemented, or decline."""
        return answer(
            application().change_contribution_status(
                contribution_id, data["status"], data["note"], current_actor(), expected_version()
            )
        )


@blp.route("/<uuid:contribution_id>/rewards")
class Rewards(MethodView):
    @requires("contributions:curate")
    @blp.arguments(s.Reward)
    @changes(blp, s.Contribution, status=201)
    def post(self, data: dict[str, Any], contribution_id: UUID) -> Any:
        """Recognise the contribution."""
        written = application().reward_contribution(
            contribution_id, data["description"], current_actor(), expected_version()
        )
        return answer(written, 201, _location(contribution_id))


@blp.route("/<uuid:contribution_id>/conversion")
class ConversionResource(MethodView):
    @requires("contributions:write")
    @blp.arguments(s.Conversion)
    @changes(blp, s.Contribution, status=201)
    def post(self, data: dict[str, Any], contribution_id: UUID) -> Any:
        """Record that the referral became a customer."""
        written = application().convert_referral(
            contribution_id, data["customer_id"], current_actor(), expected_version()
        )
        return answer(written, 201, _location(contribution_id))
