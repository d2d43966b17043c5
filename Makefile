# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test lint typecheck pytest install system-packages frontend clean bench

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

# Debian packages the tests drive for real, installed (as root) only where they are missing:
# Chromium (browser tests), nginx (deploy/nginx), PostgreSQL (the store and a paper run on
# PostgreSQL) and systemd (systemd-analyze on deploy/*.service). The tests start their own
# throwaway instances; without a package, its tests skip and say why.
system-packages:
	@missing=""; \
	{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 || missing="$$missing nginx"; \
	{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 \
	  || missing="$$missing postgresql"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	browser=""; command -v chromium >/dev/null 2>&1 || browser="chromium"; \
	[ -z "$$missing$$browser" ] && exit 0; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "missing:$$missing $$browser (run as root to install): their tests will be skipped"; \
	  exit 0; fi; \
	echo "installing Debian packages:$$missing $$browser"; \
	apt-get update -qq || echo "apt-get update failed"; \
	if [ -n "$$browser" ]; then apt-get install -y -qq chromium >/dev/null \
	  || echo "chromium could not be installed: browser tests will be skipped"; fi; \
	if [ -n "$$missing" ]; then DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	  || echo "could not install$$missing: their tests will be skipped"; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-packages frontend
	$(BIN)/pytest -q $(ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/store.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
