"""Privacy (issue 4): personal data sealed per customer, erasure by crypto-shredding, right of access.

The central test greps the database itself, the SQLite files or a PostgreSQL dump, for a forgotten
customer's name, handle, e-mail and texts. It first checks that they *are* there before the erasure,
so that a grep which could never find anything cannot pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from flask import Flask

from domain.actor import SYSTEM
from domain.application import CustomerRelations
from domain.personal_data import FORGOTTEN
from service.settings import Settings
from tests.api.test_errors import assert_problem
from tests.conftest import POSTGRES_URL_VARIABLE, ApiClient

NAME = "Zebulon Quixote-Marchetti"
HANDLE = "@zq_marchetti"
EMAIL = "zebulon@quixote.example"
MESSAGE = "My parcel with the blue lamp never reached 12 Larkspur Lane, this is awful and I am furious"
SECRETS = (
    NAME,
    HANDLE,
    EMAIL,
    "Larkspur Lane",  # the message
    "Kestrelwood",  # the subject
    "Sorry Zebulon",  # the agent's reply
    "Prefers calls after six",  # the internal note
    "Umbrella-shaped lamp shade",  # the contribution's title
    "Marmalade button",  # the contribution's body
    "Quince delivery was superb",  # the NPS comment
)


def done(response: Any) -> Any:
    assert 200 <= response.status_code < 300, response.json
    return response.json


# What the views keep in plain text until an erasure (the events never hold any of it).
KEPT_BY_VIEWS = (NAME, HANDLE, EMAIL, "Kestrelwood", "Sorry Zebulon", "Umbrella-shaped lamp shade")


def populate(admin: ApiClient) -> dict[str, str]:
    """A customer with every kind of personal data, written through the API."""
    customer = admin.post(
        "/v1/customers",
        json={"name": NAME, "identities": [{"channel": "twitter", "handle": HANDLE}], "email": EMAIL},
    ).json
    conversation = admin.post(
        "/v1/conversations",
        json={
            "customer_id": customer["id"],
            "channel": "twitter",
            "subject": "Kestrelwood order",
            "message": {"text": MESSAGE},
        },
    ).json
    url = f"/v1/conversations/{conversation['id']}"
    done(admin.post(f"{url}/replies", json={"text": "Sorry Zebulon, we are on it"}))
    done(admin.post(f"{url}/notes", json={"text": "Prefers calls after six"}))
    done(admin.post(f"{url}/resolve"))
    done(admin.post(f"{url}/csat", json={"rating": 2, "comment": "Slow, but Zebulon got it"}))
    done(admin.post(f"/v1/customers/{customer['id']}/nps", json={"score": 9, "comment": "Quince delivery was superb"}))
    contribution = admin.post(
        "/v1/contributions",
        json={
            "customer_id": customer["id"],
            "kind": "idea",
            "title": "Umbrella-shaped lamp shade",
            "body": "Marmalade button on the lid",
        },
    ).json
    return {"customer": customer["id"], "conversation": conversation["id"], "contribution": contribution["id"]}


def forget(admin: ApiClient, customer_id: str) -> Any:
    response = admin.post(f"/v1/customers/{customer_id}/forget", json={"reason": "asked by e-mail"})
    assert response.status_code == 200, response.json
    return response


def database_bytes(settings: Settings) -> bytes:
    """Everything the database holds on disk (SQLite: the file, its WAL and shared memory) or in a
    plain-SQL dump of the test's PostgreSQL schema."""
    env = settings.persistence_env()
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        path = Path(env["SQLITE_DBNAME"])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    url = urlsplit(os.environ[POSTGRES_URL_VARIABLE])
    command = [pg_dump, "--data-only", "--schema", env["POSTGRES_SCHEMA"], "-h", url.hostname or "127.0.0.1"]
    command += ["-p", str(url.port or 5432), "-U", url.username or "postgres", url.path.lstrip("/") or "postgres"]
    return subprocess.run(command, check=True, capture_output=True).stdout


def found_in(data: bytes) -> list[str]:
    """The secrets present in the data, compared case-insensitively (views keep folded search text)."""
    lowered = data.lower()
    return [secret for secret in SECRETS if secret.lower().encode() in lowered]


# ---- sealed at rest -------------------------------------------------------------------------------


def test_events_keep_personal_data_only_sealed_and_the_rest_plain(
    admin: ApiClient, application: CustomerRelations
) -> None:
    populate(admin)

    stored = b"".join(n.state for n in application.recorder.select_notifications(start=1, limit=10_000))

    assert found_in(stored) == []
    assert b'"channel":"twitter"' in stored and b'"compound":' in stored  # structure, sentiment stay plain
    assert b"personal_text" in stored


def test_a_sealed_value_cannot_be_opened_as_another_customers(admin: ApiClient, application: CustomerRelations) -> None:
    ids = populate(admin)
    other = admin.post("/v1/customers", json={"name": "Other Person"}).json
    registered = next(iter(application.events.get(UUID(ids["customer"]))))
    sealed = application.mapper.transcoder.encode(registered.name)  # type: ignore[attr-defined]
    forged = sealed.replace(registered.name.owner.hex.encode(), UUID(other["id"]).hex.encode())

    with pytest.raises(ValueError, match="does not match its key"):
        application.mapper.transcoder.decode(forged)  # type: ignore[attr-defined]


# ---- forget -------------------------------------------------------------------------------------


def test_after_forget_no_personal_data_is_left_in_the_database(
    admin: ApiClient, app: Flask, project: Any, settings: Settings
) -> None:
    ids = populate(admin)
    project()
    app.extensions["conversa"].projector().rebuild()  # a retired generation of the views stays behind
    project()
    assert set(KEPT_BY_VIEWS) <= set(found_in(database_bytes(settings)))  # the grep can find them

    forget(admin, ids["customer"])
    project()

    assert found_in(database_bytes(settings)) == []


def test_after_forget_reads_show_forgotten_and_statistics_still_count(admin: ApiClient, project: Any) -> None:
    ids = populate(admin)
    project()
    kpis_before = admin.get("/v1/kpis?from=2000-01-01&to=2100-01-01").json

    forget(admin, ids["customer"])
    project()

    customer = admin.get(f"/v1/customers/{ids['customer']}").json
    assert (customer["name"], customer["email"], customer["identities"]) == (FORGOTTEN, None, [])
    conversation = admin.get(f"/v1/conversations/{ids['conversation']}").json
    assert conversation["subject"] == FORGOTTEN
    assert {m["text"] for m in conversation["messages"]} == {FORGOTTEN}
    assert {n["text"] for n in conversation["notes"]} == {FORGOTTEN}
    assert conversation["csat"][0]["comment"] == FORGOTTEN and conversation["csat"][0]["rating"] == 2
    contribution = admin.get(f"/v1/contributions/{ids['contribution']}").json
    assert (contribution["title"], contribution["body"]) == (FORGOTTEN, FORGOTTEN)
    inbox = admin.get(f"/v1/conversations?customer_id={ids['customer']}").json["items"]
    assert (inbox[0]["subject"], inbox[0]["last_message"]["excerpt"]) == (FORGOTTEN, FORGOTTEN)
    board = admin.get("/v1/contributions").json["items"]
    assert [row["title"] for row in board] == [FORGOTTEN]
    assert admin.get("/v1/kpis?from=2000-01-01&to=2100-01-01").json == kpis_before


def test_nothing_more_is_recorded_about_a_forgotten_customer(admin: ApiClient, application: CustomerRelations) -> None:
    ids = populate(admin)
    forget(admin, ids["customer"])
    head = application.head_position
    conversation = f"/v1/conversations/{ids['conversation']}"
    contribution = f"/v1/contributions/{ids['contribution']}"

    refused = [
        admin.post(f"{conversation}/messages", json={"text": "Me again"}),
        admin.post(f"{conversation}/reopen"),
        admin.post(f"{conversation}/notes", json={"text": "More about them"}),
        admin.put(f"{conversation}/priority", json={"priority": "low"}),
        admin.put(f"{contribution}/status", json={"status": "under_review"}),
        admin.post(f"/v1/customers/{ids['customer']}/nps", json={"score": 3}),
        admin.put(f"/v1/customers/{ids['customer']}/consent", json={"given": True}),
        admin.post("/v1/conversations", json={"customer_id": ids["customer"], "channel": "web"}),
    ]

    for response in refused:
        assert_problem(response, 409, "customer-inactive")
    assert application.head_position == head


def test_the_same_identity_later_starts_a_new_customer(admin: ApiClient) -> None:
    ids = populate(admin)
    forget(admin, ids["customer"])

    again = admin.post("/v1/customers", json={"name": "Z.", "identities": [{"channel": "twitter", "handle": HANDLE}]})

    assert again.status_code == 201, again.json
    assert again.json["id"] != ids["customer"]
    assert again.json["identities"] == [{"channel": "twitter", "handle": HANDLE}]


def test_forgetting_twice_is_refused_and_changes_nothing(admin: ApiClient, application: CustomerRelations) -> None:
    ids = populate(admin)
    forget(admin, ids["customer"])
    head = application.head_position

    response = admin.post(f"/v1/customers/{ids['customer']}/forget", json={"reason": "again"})

    assert_problem(response, 409, "customer-inactive")
    assert application.head_position == head


# ---- merges -------------------------------------------------------------------------------------


def test_a_merge_keeps_each_records_own_key_and_forgetting_the_survivor_forgets_both(
    admin: ApiClient, application: CustomerRelations, project: Any, settings: Settings
) -> None:
    ids = populate(admin)
    survivor = admin.post("/v1/customers", json={"name": "Zeb Q. (new account)"}).json
    done(admin.post(f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": ids["customer"]}))
    keys = application.keyring.store
    duplicate_key, survivor_key = keys.get(UUID(ids["customer"])), keys.get(UUID(survivor["id"]))
    assert duplicate_key is not None and survivor_key is not None and duplicate_key != survivor_key
    merged_thread = admin.get(f"/v1/conversations/{ids['conversation']}").json
    assert merged_thread["messages"][0]["text"] == MESSAGE  # the duplicate's history is still readable

    forget(admin, survivor["id"])
    project()

    assert keys.get(UUID(ids["customer"])) is None and keys.get(UUID(survivor["id"])) is None
    assert admin.get(f"/v1/conversations/{ids['conversation']}").json["messages"][0]["text"] == FORGOTTEN
    assert found_in(database_bytes(settings)) == []


# ---- a forget interrupted between its save and the key destruction ----------------------------------


def test_the_projector_destroys_the_keys_when_the_forgetting_process_died_before(
    admin: ApiClient, application: CustomerRelations, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = populate(admin)

    def die(*_: Any) -> None:
        raise RuntimeError("the process died here")

    with monkeypatch.context() as patch:
        patch.setattr(application.keyring, "destroy", die)
        with pytest.raises(RuntimeError):
            application.forget_customer(UUID(ids["customer"]), "asked", actor=SYSTEM)
    assert application.keyring.store.get(ids["customer"]) is not None  # type: ignore[arg-type]

    project()

    assert application.keyring.store.get(UUID(ids["customer"])) is None
    assert admin.get(f"/v1/conversations/{ids['conversation']}").json["messages"][0]["text"] == FORGOTTEN


# ---- right of access ------------------------------------------------------------------------------


def test_the_export_holds_everything_stored_about_the_customer(admin: ApiClient, project: Any, as_role: Any) -> None:
    ids = populate(admin)
    duplicate = admin.post("/v1/customers", json={"name": "Zeb", "email": "zeb@old.example"}).json
    old_thread = admin.post(
        "/v1/conversations",
        json={"customer_id": duplicate["id"], "channel": "email", "message": {"text": "Old account question?"}},
    ).json
    done(admin.post(f"/v1/customers/{ids['customer']}/merge", json={"duplicate_id": duplicate["id"]}))
    done(admin.put(f"/v1/customers/{ids['customer']}/consent", json={"given": True, "source": "web form"}))
    project()

    response = admin.get(f"/v1/customers/{ids['customer']}/export")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="customer-{ids["customer"]}.json"'
    document = response.json
    customer = document["customer"]
    assert (customer["name"], customer["email"]) == (NAME, EMAIL)
    assert customer["identities"] == [{"channel": "twitter", "handle": HANDLE}]
    assert [(c["given"], c["source"], c["actor"]["name"]) for c in customer["consent_history"]] == [
        (True, "web form", "admin")
    ]
    assert customer["nps_history"][0]["comment"] == "Quince delivery was superb"
    assert [d["id"] for d in document["merged_duplicates"]] == [duplicate["id"]]
    threads = {c["id"]: c for c in document["conversations"]}
    assert set(threads) == {ids["conversation"], old_thread["id"]}
    assert [m["text"] for m in threads[ids["conversation"]]["messages"]] == [MESSAGE, "Sorry Zebulon, we are on it"]
    assert threads[ids["conversation"]]["notes"][0]["text"] == "Prefers calls after six"
    assert threads[old_thread["id"]]["messages"][0]["text"] == "Old account question?"
    assert [(c["title"], c["body"]) for c in document["contributions"]] == [
        ("Umbrella-shaped lamp shade", "Marmalade button on the lid")
    ]
    profile = admin.get(f"/v1/customers/{ids['customer']}/profile").json
    assert document["scores"] == {"happiness": profile["happiness"], "advocacy": profile["advocacy"]}
    assert_problem(as_role("agent").get(f"/v1/customers/{ids['customer']}/export"), 403, "forbidden")


def test_the_export_of_a_forgotten_customer_holds_only_what_survives(admin: ApiClient, project: Any) -> None:
    ids = populate(admin)
    forget(admin, ids["customer"])
    project()

    document = admin.get(f"/v1/customers/{ids['customer']}/export").json

    assert found_in(str(document).encode()) == []
    assert document["customer"]["forgotten"] is True
    assert document["conversations"][0]["csat"][0]["rating"] == 2  # what is not personal survives
    assert document["customer"]["nps_history"][0]["score"] == 9


def test_exporting_an_unknown_customer_is_a_404(admin: ApiClient) -> None:
    assert_problem(admin.get("/v1/customers/00000000-0000-4000-8000-000000000000/export"), 404, "not-found")


# ---- consent and advocates --------------------------------------------------------------------------


def test_a_forgotten_advocate_leaves_every_advocate_list_and_export(
    admin: ApiClient, project: Any, as_role: Any
) -> None:
    fan = done(admin.post("/v1/customers", json={"name": "Fan Fairweather"}))["id"]
    done(admin.put(f"/v1/customers/{fan}/consent", json={"given": True, "source": "newsletter form"}))
    done(admin.post(f"/v1/customers/{fan}/nps", json={"score": 10}))
    for text in ("I love it, wonderful service!", "Brilliant, thank you so much, great team!"):
        done(admin.post("/v1/conversations", json={"customer_id": fan, "channel": "web", "message": {"text": text}}))
    project()
    marketing = as_role("marketing")
    lists = (
        lambda: [row["customer_id"] for row in admin.get("/v1/advocates").json["items"]],
        lambda: [row["customer_id"] for row in marketing.get("/v1/advocates").json["items"]],
        lambda: [line.split(",")[0] for line in marketing.get("/v1/advocates?format=csv").text.splitlines()[1:]],
    )
    assert [listed() for listed in lists] == [[fan]] * 3

    forget(admin, fan)
    project()

    assert [listed() for listed in lists] == [[]] * 3


def test_forget_deletes_kept_idempotent_answers_that_hold_the_customers_data(admin: ApiClient) -> None:
    created = admin.post("/v1/customers", json={"name": NAME}, headers={"Idempotency-Key": "register-zeb"})
    replayed = admin.post("/v1/customers", json={"name": NAME}, headers={"Idempotency-Key": "register-zeb"})
    assert replayed.get_data() == created.get_data()  # kept, with the name in it

    forget(admin, created.json["id"])
    again = admin.post("/v1/customers", json={"name": NAME}, headers={"Idempotency-Key": "register-zeb"})

    assert again.status_code == 201 and again.json["id"] != created.json["id"]  # nothing kept to replay
