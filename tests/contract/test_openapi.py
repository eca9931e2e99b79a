"""The committed contract is valid OpenAPI 3.1 and is exactly what the code generates."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from flask import Flask
from openapi_spec_validator import validate

from service.app import create_app, openapi_document
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "patch"}
COMMITTED = ROOT / "openapi.yaml"


@pytest.fixture(scope="module")
def generated_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    data_dir = tmp_path_factory.mktemp("contract")
    return create_app(settings=Settings(database_url=f"sqlite:///{data_dir / 'unused.sqlite'}", data_dir=data_dir))


def test_committed_contract_is_valid_openapi_3_1() -> None:
    document = yaml.safe_load(COMMITTED.read_text())
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_committed_contract_equals_the_generated_one(generated_app: Flask) -> None:
    committed = yaml.safe_load(COMMITTED.read_text())
    assert committed == openapi_document(generated_app), "regenerate it: make openapi"


def test_the_cli_prints_the_generated_contract() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "service.cli", "openapi"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert yaml.safe_load(printed) == yaml.safe_load(COMMITTED.read_text())


def test_every_api_route_is_in_the_contract(generated_app: Flask) -> None:
    documented = set(openapi_document(generated_app)["paths"])
    routed = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in generated_app.url_map.iter_rules()
        if rule.rule.startswith("/v1/") or rule.rule in ("/healthz", "/readyz")
    }
    assert routed == documented


def test_every_operation_but_the_health_checks_requires_a_bearer_token(generated_app: Flask) -> None:
    document = openapi_document(generated_app)
    assert document["security"] == [{"bearerAuth": []}]
    public = {
        (path, method)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in METHODS and operation.get("security") == []
    }
    assert public == {("/healthz", "get"), ("/readyz", "get")}


def test_every_error_is_documented_as_a_problem_document(generated_app: Flask) -> None:
    document = openapi_document(generated_app)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            default = operation["responses"]["default"]
            assert default == {"$ref": "#/components/responses/DEFAULT_ERROR"}, (path, method)
    error = document["components"]["responses"]["DEFAULT_ERROR"]
    assert list(error["content"]) == ["application/problem+json"]
