# The two commands: `make run` starts the whole shop, `make test` runs every test.
PYTHON ?= python3
DEV := $(PYTHON) tools/dev.py
PY := .venv/bin/python

REDOCLY := npx --yes @redocly/cli@2

.PHONY: run test setup lint fmt openapi openapi-check docs docs-lint bench clean

run:
	@$(DEV) -m shopcommon.devstack.launcher

test:
	@$(DEV) tools/run_tests.py $(PYTEST_ARGS)

setup:
	@$(DEV) setup

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

fmt: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

openapi: setup
	$(PY) tools/openapi.py write

openapi-check: setup
	$(PY) tools/openapi.py check

docs: openapi
	@mkdir -p openapi/html
	@for f in openapi/*.yaml; do n=$$(basename $$f .yaml); $(REDOCLY) build-docs $$f -o openapi/html/$$n.html; done

docs-lint:
	$(REDOCLY) lint openapi/*.yaml --format=summary

bench: setup
	$(PY) bench/run.py

# schemathesis against every service's OpenAPI document (FUZZ_MAX_EXAMPLES, FUZZ_SEED, FUZZ_SERVICES).
.PHONY: fuzz
fuzz: setup
	$(PY) tools/fuzz/run.py

# The pinned, hashed dependency set in requirements/ (tools/lock.py): `make lock` refreshes it after a
# pyproject.toml or requirements-dev.txt changed, keeping every other version (LOCK_ARGS=--upgrade, or
# LOCK_ARGS="--upgrade-package fastapi", moves versions on); `make lock-check` fails when it is stale.
.PHONY: lock lock-check
lock:
	@$(DEV) --stale-lock-ok tools/lock.py compile $(LOCK_ARGS)

lock-check:
	@$(DEV) --stale-lock-ok tools/lock.py check

clean:
	rm -rf .data/test-* .pytest_cache .mypy_cache .ruff_cache
