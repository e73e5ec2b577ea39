# JoinedUp: the two commands a newcomer types are `make demo` and `make test`.
# Everything else here is what those two need, installed by the project itself.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: demo test install install-test frontend system-deps pdf-deps lint format bench clean

## demo: set everything up, generate and load a synthetic ICS, serve http://127.0.0.1:$(PORT)
demo: install frontend pdf-deps
	$(BIN)/joinedup demo --port $(PORT)

## test: install what the tests need and run lint plus the whole suite on SQLite and PostgreSQL
test: install-test frontend system-deps lint
	JOINEDUP_REQUIRE_POSTGRES=1 $(BIN)/pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## frontend: the NHS.UK frontend styles, scripts and icons (from the npm registry)
frontend: src/joinedup/web/static/nhsuk/.installed

src/joinedup/web/static/nhsuk/.installed: package.json package-lock.json scripts/install-frontend.sh
	bash scripts/install-frontend.sh
	touch $@

## system-deps: Pango (PDF reports), Debian Chromium (browser tests), PostgreSQL binaries (database tests)
system-deps:
	bash scripts/install-system-deps.sh

## pdf-deps: Pango and Cairo, for PDF reports (WeasyPrint) and PNG charts (CairoSVG)
pdf-deps:
	bash scripts/install-system-deps.sh pdf

lint: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: install-test
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

## bench: the benchmarks (slow, full scale; record results in BENCHMARKS.md with machine and date)
bench: install-test
	PYTHONPATH=. $(BIN)/python benchmarks/synth_full.py
	PYTHONPATH=. $(BIN)/python benchmarks/fhir_ingest.py
	PYTHONPATH=. $(BIN)/python benchmarks/mllp_throughput.py --messages 20000 --connections 1 8
	PYTHONPATH=. $(BIN)/python benchmarks/mllp_throughput.py --messages 5000 --connections 1 8 --store
	PYTHONPATH=. $(BIN)/python benchmarks/linkage_scale.py
	PYTHONPATH=. $(BIN)/python benchmarks/referral_routing.py
	PYTHONPATH=. $(BIN)/python benchmarks/referral_intake.py
	PYTHONPATH=. $(BIN)/python benchmarks/virtual_ward_intake.py
	PYTHONPATH=. $(BIN)/python benchmarks/ward_board.py
	@echo 'benchmarks/population_run.py and benchmarks/oversight_run.py need a prepared var folder:'
	@echo 'see their docstrings (--var DIR; population_run.py also --spark)'

clean:
	rm -rf var node_modules src/joinedup/web/static/nhsuk
