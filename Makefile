# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test lint typecheck pytest install browser frontend clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP) frontend
	$(BIN)/python -m alphaengine.system $(ARGS)

# The dashboard's chart library, from the npm registry; installed once, when missing.
FRONTEND := web/frontend
frontend:
	@if [ -f $(FRONTEND)/package.json ] && [ ! -d $(FRONTEND)/node_modules ]; then \
	  if command -v npm >/dev/null 2>&1; then \
	    npm ci --prefix $(FRONTEND) --no-audit --no-fund --loglevel=error \
	      || echo "npm install failed: the dashboard runs without charts"; \
	  else echo "npm not found: the dashboard runs without charts"; fi; fi

# Debian's Chromium for the browser tests; installed only where it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium could not be installed: browser tests will be skipped"; \
	  else echo "chromium missing (run as root to install it): browser tests will be skipped"; fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) browser frontend
	$(BIN)/pytest -q $(ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/store.py
	$(BIN)/python bench/latency.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
