# The two commands: `make run` installs and starts authward on its embedded default;
# `make test` installs the dev extras and runs every check CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run test lint typecheck pytest install install-dev bench clean browser screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check .

install-dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

run: install
	$(BIN)/authward serve $(ARGS)

lint: install-dev
	$(BIN)/ruff check src tests $(wildcard benchmarks examples)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks examples)
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy --strict src

# The browser tests drive Debian's Chromium (never a downloaded one); as root, install it.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	fi

pytest: install-dev browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The README's page screenshots, taken anew by the browser tests (a test run alone
# writes them to a scratch folder).
screenshots: install-dev browser
	AUTHWARD_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/pages/test_pages_browser.py tests/pages/test_passkeys_browser.py tests/pages/test_reauth_browser.py tests/pages/test_mailed_browser.py

# `make bench`: every performance target of authward against its baselines (a bare route,
# PyJWT and joserfc, fastapi-users), measured in one run, written to bench-report/, and the
# docs' measured figures written from it (benchmarks/figures.py; --check verifies). The
# peers live in a venv of their own; wrk (Debian's, as root) drives the load when it can,
# else a Python load generator does. BENCH_ARGS=--quick is a smoke test of every stage.
BENCH_VENV := .venv-bench
BENCH_ARGS ?=

$(BENCH_VENV)/.installed: benchmarks/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements.txt
	touch $@

bench: $(BENCH_VENV)/.installed
	@if ! command -v wrk >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y wrk || { apt-get update && apt-get install -y wrk; } || true; \
	fi
	$(BENCH_VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) .mypy_cache .pytest_cache .ruff_cache build dist
