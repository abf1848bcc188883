# Every target uses the project's own virtual environment in .venv (created by `make setup`).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  := $(BIN)/python
DEMO    ?= var/demo
URL     ?= http://127.0.0.1:8000

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-fast lint format bench lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

STAMP   := $(VENV)/.installed

$(STAMP): requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install the project editable from the lock

demo: setup ## simulate, train, register the champion, load simulated shipments, serve the API, pages and dispatcher
	$(PYTHON) -m training demo --out $(DEMO)
	$(PYTHON) -m serving load --history $(DEMO)/history.parquet --events $(DEMO)/events.parquet --shift-to-now
	@echo "API key for the demo (admin scope; shown once):"
	@$(PYTHON) -m serving create-key --name demo --scope admin
	@echo "Ops dashboard: $(URL)/ops  -- sign in as:"
	@$(PYTHON) -m serving create-user --username demo --role admin --generate-password --reset
	@echo "Customer tracking page: $$($(PYTHON) -m serving tracking-link --base-url $(URL))"
	@echo "Checkout widget demo: $(URL)/widget#key=$$($(PYTHON) -m serving create-key --name widget-demo --scope quote)"
	@echo "Serving on $(URL) (OpenAPI at /docs) with the webhook dispatcher beside it"
	@echo "(webhooks may target 127.0.0.1 in the demo); Ctrl-C stops both."
	export ETA_WEBHOOK_ALLOW_LOOPBACK=true; \
	$(PYTHON) -m serving dispatch & dispatcher=$$!; \
	trap 'kill $$dispatcher 2>/dev/null; wait $$dispatcher' EXIT; \
	$(PYTHON) -m serving

test: setup ## run the whole test suite (real datasets, slow suites included)
	$(PYTHON) -m pytest

test-fast: setup ## run the fast, offline tests only
	$(PYTHON) -m pytest -m "not slow"

lint: setup ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup ## run the benchmarks (at most 20 minutes) and write BENCHMARKS.md and benchmarks/results/*.json
	$(PYTHON) -m benchmarks.run

lock: ## re-resolve requirements.lock from pyproject.toml (needs uv)
	uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean: ## remove the virtual environment and generated files
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
