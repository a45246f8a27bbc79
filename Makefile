# The two commands: `make run` and `make test`. Everything else is a step they share.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app app

.PHONY: run test setup lint chromium clean

setup: $(VENV)/.installed static/vendor/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

static/vendor/.installed: package.json package-lock.json scripts/vendor.sh
	npm ci --no-audit --no-fund --loglevel=error
	sh scripts/vendor.sh
	touch $@

# Serve the demo on the embedded SQLite database (development mode).
run: setup
	TANDEM_ENV=development $(FLASK) db upgrade
	TANDEM_ENV=development $(FLASK) demo
	@echo "Tandem is at http://127.0.0.1:$(PORT)/"
	TANDEM_ENV=development $(FLASK) run --host 127.0.0.1 --port $(PORT)

# The whole suite: unit, integration and browser tests.
test: setup chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

chromium:
	sh scripts/ensure-chromium.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache

# The benchmark (not part of `make test`): scale-1 data on SQLite and PostgreSQL, served by
# gunicorn and driven by wrk; writes BENCHMARKS.md. Quicker: BENCH_ARGS="--scale 0.1 --db sqlite"
.PHONY: bench
bench: setup
	sh scripts/ensure-wrk.sh
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)
