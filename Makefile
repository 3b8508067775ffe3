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

# The browser tests, saving each main page's picture into docs/ (the README shows them).
.PHONY: screenshots
screenshots:
	@SHOP_SCREENSHOTS=docs $(DEV) tools/run_tests.py tests/browser

setup:
	@$(DEV) setup

# Style, types, the boundaries between services and layers (pyproject's importlinter contracts),
# and the size of files and functions (tools/size_check.py).
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	.venv/bin/lint-imports --no-cache
	$(PY) tools/size_check.py

fmt: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

openapi: setup
	$(PY) tools/openapi.py write

openapi-check: setup
	$(PY) tools/openapi.py check

# A client generated (openapi-python-client) from each openapi/*.yaml imports, module by module.
.PHONY: openapi-clients
openapi-clients: setup
	$(PY) tools/openapi_clients.py

# Redocly HTML of every OpenAPI document and of the AsyncAPI document of the events, into
# openapi/html/ (git-ignored): the Redoc script inlined (no CDN), telemetry off; then checked to
# load nothing from elsewhere. Built from the committed documents (`make openapi` refreshes them).
docs:
	@mkdir -p openapi/html
	@set -e; for f in openapi/*.yaml asyncapi/events.yaml; do n=$$(basename $$f .yaml); \
	  REDOCLY_TELEMETRY=off $(REDOCLY) build-docs $$f --inlineBundle --openapi.disableTelemetry=true \
	    --asyncapi.disableTelemetry=true -o openapi/html/$$n.html; done
	$(PY) tools/asyncapi_check.py html openapi/html/*.html

docs-lint:
	REDOCLY_TELEMETRY=off $(REDOCLY) lint openapi/*.yaml asyncapi/events.yaml --format=summary
	$(PY) tools/asyncapi_check.py

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
