VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
## make test runs the suite on this many workers (each starts its own broker and Postgres)
TEST_WORKERS ?= 2

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run the service on the embedded broker and Postgres (or on KAFKA_/DATABASE_ settings when given);
## DEV_ARGS="--kafka-port N" moves the broker (CIS_HTTP_PORT and CIS_STATE_DIR the rest).
run: $(STAMP)
	$(VENV)/bin/contact-import dev $(DEV_ARGS)

test: $(STAMP) tools
	$(PY) -m pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check service tests bench
	$(VENV)/bin/ruff format --check service tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .state

## Tools the tests call that PyPI does not ship (promtool, from Debian's prometheus package).
.PHONY: tools
tools:
	command -v promtool >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus)

## Throughput, latency and memory benchmarks: docs/performance.md and bench/results/ (BENCH_ARGS=--quick: a short run).
bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)
