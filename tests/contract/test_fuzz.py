"""The contract, fuzzed: schemathesis sends generated requests to every operation of openapi.yaml,
in-process, and checks every answer against it.

All of schemathesis's checks run: no 5xx; status codes, content types, headers and bodies as
documented; requests the contract allows are accepted and requests it forbids are refused; no
answer without credentials; methods the contract does not list answer 405. Each operation runs
against a fresh app on each backend, seeded with one of everything so that generated calls can
name real ids and reach past 404.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.openapi.checks import RejectedPositiveData

from tests.conftest import ApiClient

CONTRACT = Path(__file__).resolve().parents[2] / "openapi.yaml"

# Statuses that say a valid request met a state it cannot change: positive_data_acceptance's own
# list, and 412, the answer to an If-Match that names another version than the current one.
ACCEPTED_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]

# Problems about what a request means rather than its shape, which no JSON Schema can describe: a
# business rule (endorsing one's own contribution), an Idempotency-Key sent with another request,
# a min_position the event log has not reached. A schema-valid request may rightly get them.
SEMANTIC_PROBLEMS = {
    "urn:conversa:problem:rule-violation",
    "urn:conversa:problem:idempotency-key-reused",
    "urn:conversa:problem:unknown-position",
}
# Rules about values that no JSON Schema can state either, answered as validation problems at these
# pointers: a cursor must be one this API issued (the contract can only say it is a string), and a
# KPI range must run forwards and cover at most 366 days (a relation between two parameters).
RULES_BEYOND_JSON_SCHEMA = {"/cursor", "/from"}


def _config(max_examples: int, coverage: bool) -> schemathesis.Config:
    # Deterministic: derandomized Hypothesis and no example database, so a run repeats exactly.
    return schemathesis.Config.from_dict(
        {
            "generation": {"deterministic": True, "max-examples": max_examples, "database": "none"},
            "phases": {"coverage": {"enabled": coverage}},
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_STATUSES}},
            "operations": [
                # Batch ingest validates each message on its own and answers a bad one as "rejected"
                # in a 200 beside the good ones, by design: a batch holding a message the contract
                # forbids is accepted. Every other check still runs on it.
                {
                    "include-path": "/v1/ingest/messages",
                    "checks": {"negative_data_rejection": {"enabled": False}},
                }
            ],
        }
    )


class Target:
    """The app and token of the test being run: schemas load once per module, each test builds its
    own app. It is the schemas' WSGI app, so checks that send requests of their own (such as
    ignored_auth, which drops the credentials) reach the same app."""

    def __init__(self) -> None:
        self.app: Flask | None = None
        self.token = ""

    def __call__(self, environ: Any, start_response: Any) -> Any:
        assert self.app is not None, "no app under test"
        return self.app(environ, start_response)


TARGET = Target()


def _load(config: schemathesis.Config) -> Any:
    schema = schemathesis.openapi.from_path(CONTRACT, config=config)
    schema.app = TARGET

    # The token of the test being run, on every request (never a generated Authorization header).
    @schema.auth(refresh_interval=None)
    class BearerToken:
        def get(self, case: Any, context: Any) -> str:
            return TARGET.token

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    @schema.hook
    def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
        """Keep every failure but a schema-valid request refused for what it means, not for its shape."""
        if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
            return True
        problem = response.json()
        if problem.get("type") in SEMANTIC_PROBLEMS:
            return False
        pointers = {error.get("pointer") for error in problem.get("errors", [])}
        return not pointers or not pointers <= RULES_BEYOND_JSON_SCHEMA

    return schema


# 12 examples per operation beside the coverage phase's own cases keep the run at about a minute
# per backend; CONVERSA_FUZZ_EXAMPLES=200 explores deeper by hand.
admin_schema = _load(_config(max_examples=int(os.environ.get("CONVERSA_FUZZ_EXAMPLES", "12")), coverage=True))
role_schema = _load(_config(max_examples=4, coverage=False))


@pytest.fixture
def real_ids(app: Flask, admin: ApiClient, project: Any) -> Iterator[dict[str, str]]:
    """One of everything, by the names the contract's path parameters give their ids."""
    customer = admin.post(
        "/v1/customers", json={"name": "Fuzz Customer", "identities": [{"channel": "twitter", "handle": "@fuzz"}]}
    ).json
    admin.post(f"/v1/customers/{customer['id']}/tags", json={"tag": "vip"})
    admin.post("/v1/customers", json={"name": "Fuzz Duplicate"})
    conversation = admin.post(
        "/v1/conversations",
        json={"customer_id": customer["id"], "channel": "twitter", "message": {"text": "Where is my parcel?"}},
    ).json
    contribution = admin.post(
        "/v1/contributions",
        json={"customer_id": customer["id"], "kind": "idea", "title": "Dark mode", "body": "Please add one"},
    ).json
    agent = admin.post("/v1/agents", json={"name": "Fuzz Agent", "role": "agent"}).json
    project()
    TARGET.app = app
    yield {
        "customer_id": customer["id"],
        "conversation_id": conversation["id"],
        "message_id": conversation["messages"][0]["id"],
        "contribution_id": contribution["id"],
        "agent_id": agent["id"],
        "channel": "twitter",
        "handle": "@fuzz",
        "tag": "vip",
    }
    TARGET.app, TARGET.token = None, ""


def _call(case: Any, use_real_ids: bool, real_ids: dict[str, str], project: Any) -> None:
    if use_real_ids and case.path_parameters:
        # In place: schemathesis notices and re-validates the case, so a negative case whose only
        # fault was its path is then judged as the positive case it has become.
        for name in case.path_parameters.keys() & real_ids.keys():
            case.path_parameters[name] = real_ids[name]
    case.call_and_validate()
    # The views include every write before the next call, as a client naming a position expects.
    project()


# One app per operation for the whole run of its examples (that is what the fixtures are for).
FIXTURES_SPAN_EXAMPLES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@admin_schema.parametrize()
@admin_schema.given(use_real_ids=st.booleans())
@FIXTURES_SPAN_EXAMPLES
def test_every_operation_keeps_the_contract_for_an_admin(
    case: Any, use_real_ids: bool, real_ids: dict[str, str], admin_token: str, project: Any
) -> None:
    TARGET.token = admin_token
    _call(case, use_real_ids, real_ids, project)


@pytest.fixture
def marketing_token(as_role: Any) -> str:
    token: str = as_role("marketing", "Fuzz Marketing").token
    return token


@role_schema.parametrize()
@role_schema.given(use_real_ids=st.booleans())
@FIXTURES_SPAN_EXAMPLES
def test_every_operation_keeps_the_contract_for_the_marketing_role(
    case: Any, use_real_ids: bool, real_ids: dict[str, str], marketing_token: str, project: Any
) -> None:
    """Marketing may read and curate but not write: its 403s must be as documented as the rest."""
    TARGET.token = marketing_token
    _call(case, use_real_ids, real_ids, project)
