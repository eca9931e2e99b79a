"""What the contract says a request may hold is what the API accepts: the cases the contract fuzzer
(tests/contract/test_fuzz.py) found apart, each kept here as a regression test."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from domain.application import CustomerRelations
from service.schemas.common import TEXT_PATTERN, Text
from tests.conftest import ApiClient, contract

CUSTOMER_SCHEMAS = contract().raw_schema["components"]["schemas"]

# Characters around the edges of the rules: controls, tab and line breaks, Unicode spaces, a non-ASCII digit.
EDGES = st.sampled_from(
    ["\x00", "\x1b", "\x7f", "\x85", "\x9f", "\t", "\n", "\r", " ", "\xa0", "\u2003", "\u3000", "٣"]
)


@pytest.fixture
def customer(agent: ApiClient) -> dict[str, Any]:
    response = agent.post("/v1/customers", json={"name": "Dana Scully"})
    assert response.status_code == 201
    body: dict[str, Any] = response.json
    return body


# ---- texts: the contract states which characters a text may hold ---------------------------------


def test_every_text_field_of_the_contract_carries_the_text_pattern() -> None:
    assert CUSTOMER_SCHEMAS["CustomerCreate"]["properties"]["name"]["pattern"] == TEXT_PATTERN
    assert CUSTOMER_SCHEMAS["NpsAnswer"]["properties"]["comment"]["pattern"] == TEXT_PATTERN


@settings(max_examples=400)
@given(st.text(EDGES | st.characters(), max_size=8))
def test_the_text_pattern_accepts_exactly_the_texts_the_api_accepts(text: str) -> None:
    # Before: the contract said "any string", and "hello\x7f" or "   " was a schema-valid request refused with 422.
    try:
        Text(1_000).deserialize(text)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == (re.fullmatch(TEXT_PATTERN, text) is not None)


# ---- patterns match whole values, as JSON Schema's do ---------------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "pointer"),
    [
        ("/v1/customers", {"name": "Dana", "identities": [{"channel": "twitter\n", "handle": "@d"}]}, "/identities/0"),
        ("/v1/customers", {"name": "Dana", "locale": "en\n"}, "/locale"),
        ("{customer}/tags", {"tag": "vip\n"}, "/tag"),
    ],
)
def test_a_value_with_a_trailing_line_break_does_not_match_a_pattern(
    agent: ApiClient,
    customer: dict[str, Any],
    application: CustomerRelations,
    url: str,
    body: dict[str, Any],
    pointer: str,
) -> None:
    # Before: Python's "$" matches before a final line break, so "twitter\n" was a channel of its own.
    before = application.head_position
    response = agent.post(url.format(customer=f"/v1/customers/{customer['id']}"), json=body)
    assert response.status_code == 422, response.json
    assert any(error["pointer"].startswith(pointer) for error in response.json["errors"])
    assert application.head_position == before


# ---- If-Match: the contract states which values are entity tags -----------------------------------

IF_MATCH_PATTERN = next(
    parameter["schema"]["pattern"]
    for parameter in contract().raw_schema["paths"]["/v1/customers/{customer_id}"]["patch"]["parameters"]
    if parameter["name"] == "If-Match"
)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("*", True),
        ('"{version}"', True),
        ('W/"{version}"', True),
        ('"٣"', False),  # an Arabic-Indic three: int() reads it as 3, the contract's [0-9] does not
        ("{version}", False),
        ('"{version}", "7"', False),
        ('"a"', False),
        ('W/ "{version}"', False),
    ],
)
def test_the_if_match_pattern_accepts_exactly_the_entity_tags_the_api_accepts(
    agent: ApiClient, customer: dict[str, Any], value: str, accepted: bool
) -> None:
    # Before: the contract said "any string" and the API refused most strings with 400.
    header = value.format(version=customer["version"])
    assert (re.fullmatch(IF_MATCH_PATTERN, header) is not None) is accepted
    response = agent.patch(f"/v1/customers/{customer['id']}", json={"locale": "en"}, headers={"If-Match": header})
    assert response.status_code == (200 if accepted else 400), response.json


# ---- integers: JSON Schema counts 9.0 as an integer -----------------------------------------------


@pytest.mark.parametrize(("score", "status"), [(9, 201), (9.0, 201), (9.5, 422), ("9", 422), (True, 422)])
def test_an_integer_may_be_written_with_a_zero_fraction(
    agent: ApiClient, customer: dict[str, Any], score: Any, status: int
) -> None:
    # Before: {"score": 9.0} matched the contract's "type: integer" and was refused with 422.
    response = agent.post(f"/v1/customers/{customer['id']}/nps", json={"score": score})
    assert response.status_code == status, response.json
    if status == 201:
        assert response.json["latest_nps"] == 9


# ---- a change names at least one field ------------------------------------------------------------


def test_the_contract_says_a_customer_change_names_at_least_one_field(
    agent: ApiClient, customer: dict[str, Any]
) -> None:
    # Before: {} matched the contract and was refused with 422.
    assert CUSTOMER_SCHEMAS["CustomerPatch"]["minProperties"] == 1
    assert agent.patch(f"/v1/customers/{customer['id']}", json={}).status_code == 422
