# RxRevOps — two commands: `make demo` runs the product, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install services chromium lint typecheck pytest lock bench clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

services:
	./scripts/ensure-services.sh

chromium:
	./scripts/ensure-chromium.sh

## make demo: install, start Postgres/Redis if needed, migrate, seed the demo chain, then run
## web + worker + beat in the foreground (Ctrl-C stops all three).
demo: install services
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/python manage.py seed_demo
	@echo "RxRevOps is starting on http://127.0.0.1:8000 — Ctrl-C stops web, worker and beat."
	IMMUNIZATION_REGISTRY_SANDBOX=1 PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

## make test: everything the suite needs, then lint, types, architecture and tests.
test: install services chromium lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/bandit -c pyproject.toml -r . --severity-level high --quiet
	BIN=$(BIN) ./scripts/audit.sh

typecheck:
	$(BIN)/mypy .

pytest:
	$(BIN)/pytest

## make bench: every benchmark against the large world; the report goes to bench/results/
## and its summary into README.md (about an hour on 2 cores)
bench: install services
	$(BIN)/python -m bench --large --readme

## make lock: refresh requirements.lock from the current environment
lock:
	$(BIN)/pip freeze --exclude-editable | grep -v '^rxrevops' > requirements.lock

clean:
	rm -rf $(VENV) var test-artifacts .mypy_cache .ruff_cache .pytest_cache
