# Two commands do everything: `make serve` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install serve test lint format openapi bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

serve: install  ## run the API on http://127.0.0.1:$${PORT:-8000} with SQLite under ./var
	$(BIN)/conversa serve

test: lint  ## lint, type-check, then the whole test suite (PostgreSQL too when CONVERSA_TEST_POSTGRES_URL is set)
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

openapi: install  ## regenerate the committed contract from the code
	$(BIN)/conversa openapi > openapi.yaml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

bench: install  ## ingest speed on the Twitter sample; rebuild speed and view latency at 1,000,000 events (minutes)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/rebuild.py --events $${EVENTS:-1000000}
