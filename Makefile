# Two entry points (see README): `make run` and `make test`. Both install into .venv first:
# `make run` only what serving needs, `make test` the test tools (and cluster extras) too.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install install-dev run test lint browser

# Debian's chromium and Arabic fonts for the browser tests (never `playwright install`)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && fc-list | grep -q "Noto Naskh Arabic" || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core; }

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "installing rag-news into $(VENV) (a few minutes on a fresh machine): pip lists what it"
	@echo "fetches, then unpacks ~130 packages (a bar in a terminal; torch alone takes a minute)"
	$(BIN)/python -m pip install --progress-bar on -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: install
	$(BIN)/rag serve

test: install-dev browser
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .
