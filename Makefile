# One entry point for people and CI. `make demo` and `make test` work on a fresh machine
# with Python 3.11 and Java 17 (Maven is installed from Debian if it is missing).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
JARS := .jars
DELTA_POM := conf/maven/pom.xml
MVN_DEP := org.apache.maven.plugins:maven-dependency-plugin:3.6.1

.PHONY: setup venv jars browser demo test test-fast lint format bench clean

setup: venv jars browser

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

jars: $(JARS)/.fetched

$(JARS)/.fetched: $(DELTA_POM)
	@command -v mvn >/dev/null 2>&1 || { \
	  echo "Maven not found: installing it from Debian (needs root)"; \
	  apt-get update -qq && apt-get install -y -qq maven >/dev/null; }
	mvn -B -q -f $(DELTA_POM) $(MVN_DEP):copy-dependencies \
	  -DoutputDirectory=$(CURDIR)/$(JARS) -DexcludeTransitive=true
	touch $@

# The demo world, a first pipeline run three days back (trains the champion), the simulated
# ops team answering that run's audit sample and review queue (synthetic worlds only), then
# today's run: incremental features, scoring, and a shadow report that has earlier flags
# and audit verdicts to judge.
DEMO_FIRST := 2026-11-25
# Headless Chromium renders the run report in a test; from Debian when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Chromium not found: installing it from Debian (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: setup
	$(BIN)/botdetect generate --conf local
	$(BIN)/botdetect pipeline --conf local --no-generate --full-ingest --full-refresh \
	  --as-of-date $(DEMO_FIRST) --train always
	$(BIN)/botdetect ops-sim --conf local --as-of-date $(DEMO_FIRST)
	$(BIN)/botdetect pipeline --conf local --no-generate

# Two pytest-xdist workers: one builds the end-to-end world and runs the tests that use it,
# the other runs the rest meanwhile (tests/conftest.py: E2E_FILES).
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2

# The edit loop: lint and the tests on hand-made DataFrames; no generated world and no
# whole-stage runs (`-m "not slow"`). CI runs `make test`.
test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -m "not slow"

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/bench_generate_ingest.py --accounts 200000 --days 7
	$(BIN)/python bench/bench_features.py --accounts 30000 --days 28
	$(BIN)/python bench/bench_layout.py --accounts 1000000 --dates 3

# Every stage at 1.1M, 11M and 51M tweet rows, with DuckDB / scikit-learn peers (hours on
# 2 cores). Writes bench/results/pipeline.json and pipeline.png. Spark and DuckDB get 8 GiB
# each: together they fit a 24 GiB machine.
.PHONY: bench-pipeline
bench-pipeline: setup
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/bench_pipeline.py --accounts 25000,250000,1150000 --days 28 \
	  --set spark.driver_memory=8g --set spark.shuffle_partitions=16

clean:
	rm -rf lakehouse mlflow.db spark-warehouse
