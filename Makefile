# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs lakeml, runs the end-to-end demo on ./lake
#   make test   installs everything the tests need (Azurite, Chromium, a Java runtime for Spark) and runs lint + the whole suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
LAKE ?= ./lake

.PHONY: demo test lint unit faults install install-dev azurite chromium java bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/activate pyproject.toml
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[dev,spark]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(VENV)/bin/lakeml --lake $(LAKE) demo
	@echo "lakeml is installed in $(VENV): run 'source $(VENV)/bin/activate' to put lakeml (and its python) on your PATH."

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

azurite: node_modules/.installed

# The browser test renders the profile report; it skips with a clear message where Chromium cannot be installed.
chromium:
	@command -v chromium >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1) \
	  || echo "chromium could not be installed: the browser test will be skipped")

# The Spark half of the suite needs Java 17+; where java is missing it is installed like Chromium.
java:
	@command -v java >/dev/null 2>&1 || [ -x "$$JAVA_HOME/bin/java" ] || (command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null 2>&1) \
	  || echo "java could not be installed: the Spark tests will fail to start a session (install openjdk-17-jre-headless)")

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check lakeml tests benchmarks
	$(VENV)/bin/mypy

unit: $(VENV)/.installed-dev azurite chromium java
	$(VENV)/bin/pytest -q --durations=25

test: lint unit

# The full fault-injection run: 300 random kill -9 trials on top of the seeded subset that `make test` runs.
FAULT_TRIALS ?= 300
faults: $(VENV)/.installed-dev azurite
	FAULT_TRIALS=$(FAULT_TRIALS) $(VENV)/bin/pytest -q -s tests/faults

# Benchmarks (not part of make test). ydata-profiling pins numpy<2.4 and pandas<3, so it lives in its own venv.
$(VENV)/.installed-bench: $(VENV)/.installed-dev pyproject.toml
	$(PIP) install -q -e '.[bench]'
	touch $@

.venv-ydata/bin/python:
	$(PYTHON) -m venv .venv-ydata
	.venv-ydata/bin/pip install -q ydata-profiling polars pyarrow psutil

bench: $(VENV)/.installed-bench .venv-ydata/bin/python
	$(PY) benchmarks/bench_query.py
	$(PY) benchmarks/bench_scoring.py
	$(PY) benchmarks/bench_profile.py --ydata-python .venv-ydata/bin/python
	$(PY) benchmarks/bench_automl.py

clean:
	rm -rf $(VENV) .venv-ydata node_modules lake .pytest_cache .mypy_cache .ruff_cache
