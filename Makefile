# Pantau: `make run` installs everything and starts the whole stack; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED_DATA := $(wildcard ../shared/data)

.PHONY: run test install bench clean precompress

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

run: install
	PANTAU_BOUNDARIES=$${PANTAU_BOUNDARIES:-$(SHARED_DATA)} $(PY) -m app run

tests/node_modules/.installed: tests/package-lock.json
	npm ci --prefix tests --silent --no-audit --no-fund
	touch $@

test: install tests/node_modules/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

# The static files' Brotli 11 / gzip 9 copies, made once at build time (serve makes the missing ones).
precompress: install
	$(PY) -m app.web_assets

bench: install
	for script in bench/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var test-artifacts
