"""Customers: register, change, merge, forget, and read one with its timeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from flask import url_for
from flask.views import MethodView

from domain.errors import CustomerNotFoundError
from service.api.views import listing
from service.auth import current_actor, requires
from service.consistency import await_views
from service.http import Blueprint, answer, changes, expected_version, read
from service.idempotency import purge_mentioning
from service.pagination import microseconds, page, page_args
from service.runtime import application, idempotency_keys, views
from service.schemas import customers as s
from service.schemas import export as x
from service.schemas import views as v

ATTACHMENT_DOC = {
    "Content-Disposition": {"description": "Saves the document as customer-<id>.json", "schema": {"type": "string"}}
}

blp = Blueprint("customers", __name__, url_prefix="/v1/customers", description="Customers and their identities")


@blp.route("")
class Customers(MethodView):
    @requires("customers:read")
    @blp.arguments(v.CustomerListArgs, location="query")
    @blp.response(200, v.CustomerList)
    def get(self, args: dict[str, Any]) -> Any:
        """Customers by name; q searches names, handles and e-mails, tag filters."""
        await_views(args.get("min_position"))
        found = views().customers(
            args.get("q"), args.get("tag"), args["include_inactive"], args["limit"], args["cursor"]
        )
        return listing(found)

    @requires("customers:write")
    @blp.arguments(s.CustomerCreate)
    @changes(blp, s.Customer, status=201, creates=True)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a customer with their channel identities."""
        written = application().register_customer(**data, actor=current_actor())
        return answer(written, 201, url_for("customers.Customer", customer_id=written.aggregate.id))


@blp.route("/<uuid:customer_id>")
class Customer(MethodView):
    @requires("customers:read")
    @blp.response(200, s.Customer)
    def get(self, customer_id: UUID) -> Any:
        """One customer, read from its own history (read-your-writes)."""
        return read(application().get_customer(customer_id))

    @requires("customers:write")
    @blp.arguments(s.CustomerPatch)
    @changes(blp, s.Customer)
    def patch(self, data: dict[str, Any], customer_id: UUID) -> Any:
        """Change name, e-mail or locale."""
        return answer(application().update_customer_profile(customer_id, data, current_actor(), expected_version()))


@blp.route("/<uuid:customer_id>/identities")
class Identities(MethodView):
    @requires("customers:write")
    @blp.arguments(s.Identity)
    @changes(blp, s.Customer, status=201)
    def post(self, data: dict[str, Any], customer_id: UUID) -> Any:
        """Link another channel identity; 409 if another customer holds it."""
        written = application().link_identity(
            customer_id, data["channel"], data["handle"], current_actor(), expected_version()
        )
        return answer(written, 201, url_for("customers.Customer", customer_id=customer_id))


@blp.route("/<uuid:customer_id>/identities/<string:channel>/<path:handle>")
class IdentityResource(MethodView):
    @requires("customers:write")
    @changes(blp, s.Customer)
    def delete(self, customer_id: UUID, channel: str, handle: str) -> Any:
        """Unlink a channel identity; it becomes free for another customer."""
        return answer(application().unlink_identity(customer_id, channel, handle, current_actor(), expected_version()))


@blp.route("/<uuid:customer_id>/consent")
class Consent(MethodView):
    @requires("customers:write")
    @blp.arguments(s.ConsentChange)
    @changes(blp, s.Customer)
    def put(self, data: dict[str, Any], customer_id: UUID) -> Any:
        """Record that marketing consent was given or withdrawn, and how."""
        return answer(
            application().set_marketing_consent(
                customer_id, data["given"], data["source"], current_actor(), expected_version()
            )
        )


@blp.route("/<uuid:customer_id>/nps")
class Nps(MethodView):
    @requires("customers:write")
    @blp.arguments(s.NpsAnswer)
    @changes(blp, s.Customer, status=201)
    def post(self, data: dict[str, Any], customer_id: UUID) -> Any:
        """Record the customer's NPS answer (0–10)."""
        written = application().give_nps(customer_id, **data, expected_version=expected_version())
        return answer(written, 201, url_for("customers.Customer", customer_id=customer_id))


@blp.route("/<uuid:customer_id>/tags")
class Tags(MethodView):
    @requires("customers:write")
    @blp.arguments(s.TagRequest)
    @changes(blp, s.Customer)
    def post(self, data: dict[str, Any], customer_id: UUID) -> Any:
        """Tag the customer (tagging twice changes nothing)."""
        return answer(application().tag_customer(customer_id, data["tag"], current_actor(), expected_version()))


# <path:…>, not <string:…>: a tag may hold "/" and must still be removable. The path converter
# documents no minLength, so the parameters say what <string:…> said and the contract stays the same.
@blp.route(
    "/<uuid:customer_id>/tags/<path:tag>",
    parameters=[
        {"in": "path", "name": "customer_id"},
        {"in": "path", "name": "tag", "schema": {"type": "string", "minLength": 1}},
    ],
)
class Tag(MethodView):
    @requires("customers:write")
    @changes(blp, s.Customer)
    def delete(self, customer_id: UUID, tag: str) -> Any:
        """Remove a tag (removing one the customer lacks changes nothing)."""
        return answer(application().untag_customer(customer_id, tag, current_actor(), expected_version()))


@blp.route("/<uuid:customer_id>/merge")
class Merge(MethodView):
    @requires("customers:write")
    @blp.arguments(s.MergeRequest)
    @changes(blp, s.Customer)
    def post(self, data: dict[str, Any], customer_id: UUID) -> Any:
        """Merge a duplicate into this customer; the duplicate keeps its history."""
        return answer(
            application().merge_customers(customer_id, data["duplicate_id"], current_actor(), expected_version())
        )


@blp.route("/<uuid:customer_id>/forget")
class Forget(MethodView):
    @requires("customers:forget")
    @blp.arguments(s.ForgetRequest)
    @changes(blp, s.Customer)
    def post(self, data: dict[str, Any], customer_id: UUID) -> Any:
        """Erase the customer's personal data (GDPR); statistics stay, nothing else is accepted."""
        written = application().forget_customer(customer_id, data["reason"], current_actor(), expected_version())
        # Answers kept for Idempotency-Key replays would still hold the plain text.
        purge_mentioning(idempotency_keys().database, application().people_of(customer_id))
        return answer(written)


@blp.route("/<uuid:customer_id>/export")
class Export(MethodView):
    @requires("customers:export")
    @blp.arguments(v.ReadArgs, location="query")
    @blp.response(200, x.CustomerExport, headers=ATTACHMENT_DOC)
    def get(self, args: dict[str, Any], customer_id: UUID) -> Any:
        """Everything stored about the customer and their merged duplicates, as one document (GDPR access)."""
        records = application().export_customer(customer_id)
        await_views(args.get("min_position"))
        profile = views().profile(str(customer_id))
        document = {
            "exported_at": datetime.now(UTC),
            "customer": records.customer,
            "merged_duplicates": records.merged_duplicates,
            "conversations": records.conversations,
            "contributions": records.contributions,
            "scores": {"happiness": profile["happiness"], "advocacy": profile["advocacy"]} if profile else None,
        }
        return document, 200, {"Content-Disposition": f'attachment; filename="customer-{customer_id}.json"'}


def _profile(customer_id: UUID, min_position: int | None) -> dict[str, Any]:
    await_views(min_position)
    profile = views().profile(str(customer_id))
    if profile is None:
        raise CustomerNotFoundError(f"no customer with id {customer_id} in the views (yet)")
    return profile


@blp.route("/<uuid:customer_id>/profile")
class Profile(MethodView):
    @requires("customers:read")
    @blp.arguments(v.ReadArgs, location="query")
    @blp.response(200, v.Profile)
    def get(self, args: dict[str, Any], customer_id: UUID) -> Any:
        """The customer 360: identities, consent, counts, NPS, CSAT, happiness and advocacy explained."""
        return _profile(customer_id, args.get("min_position"))


@blp.route("/<uuid:customer_id>/happiness")
class CustomerHappiness(MethodView):
    @requires("customers:read")
    @blp.arguments(v.ReadArgs, location="query")
    @blp.response(200, v.CustomerHappiness)
    def get(self, args: dict[str, Any], customer_id: UUID) -> Any:
        """Happiness 0–100 with its band and the components it is made of."""
        profile = _profile(customer_id, args.get("min_position"))
        return {"customer_id": profile["customer_id"], **profile["happiness"]}


@blp.route("/<uuid:customer_id>/timeline")
class Timeline(MethodView):
    @requires("customers:read")
    @blp.arguments(page_args((int, int, str, int), "TimelineArgs"), location="query")
    @blp.response(200, s.TimelinePage)
    def get(self, args: dict[str, Any], customer_id: UUID) -> Any:
        """The customer's whole history across their conversations and contributions, oldest first."""
        entries = application().get_timeline(customer_id)
        return page(entries, _timeline_key, args["limit"], args["cursor"])


def _timeline_key(entry: Any) -> list[Any]:
    occurred_at, recorded_at, aggregate_id, version = entry.sort_key
    return [microseconds(occurred_at), microseconds(recorded_at), aggregate_id, version]
