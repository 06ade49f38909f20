# zkmargin — the two commands a newcomer needs:
#   make demo   install what is missing, build, run the end-to-end story
#   make test   install what is missing, lint, type-check, run every test
#   make test-fast   the one-minute loop: no anvil, no slow builds
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ZK := $(VENV)/bin/zkmargin

.PHONY: install setup demo test test-fast lint typecheck pytest forge-test audit stress bench bench-gas staysafe backtest clean distclean chromium

install: node_modules/.installed $(VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

setup: install
	$(ZK) setup

demo: setup
	$(ZK) demo

lint: install
	$(VENV)/bin/ruff check zkmargin prover verifier chain cli tests benchmarks contracts/tools
	$(VENV)/bin/ruff format --check zkmargin prover verifier chain cli tests benchmarks contracts/tools

typecheck: install
	$(VENV)/bin/mypy

pytest: setup chromium
	$(VENV)/bin/pytest

# headless Chromium for the dashboard's browser test (tests/test_dashboard.py): Debian's
# package, installed once when missing (apt-get needs root, else sudo); nothing otherwise
CHROMIUM := /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  command -v apt-get >/dev/null || { echo "no $(CHROMIUM) and no apt-get: install Chromium" >&2; exit 1; }; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing Chromium (Debian package, about a minute)"; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  test -x $(CHROMIUM); }

# Solidity tests need the verifiers setup generates and proofs bound to the test engine
forge-test: setup
	$(PY) contracts/tools/make_fixtures.py
	bash contracts/tools/forge-test.sh

test: lint typecheck pytest forge-test

# the developer loop: no anvil, no slow builds (docs/development.md); about a minute warm
test-fast: setup
	$(VENV)/bin/pytest -q -n 2 -m "not chain and not slow and not audit"

# heavy sweeps, not part of `make test`: cross- and portfolio-circuit mutants, long fuzz/invariant runs,
# and the stress simulation (build/audit/stress-report.{md,json}); about 45 min on 2 cores
audit: setup
	$(VENV)/bin/pytest -m audit
	$(PY) contracts/tools/make_fixtures.py
	FOUNDRY_PROFILE=ci bash contracts/tools/forge-test.sh
	$(PY) -m benchmarks.stress

stress: setup
	$(PY) -m benchmarks.stress

# timings (proving, verifying, setup) and gas from mined receipts beside the Groth16 floor
bench: setup
	$(PY) -m benchmarks.bench
	$(PY) -m benchmarks.bench_batch
	$(PY) -m benchmarks.gas

bench-gas: setup
	$(PY) -m benchmarks.gas

# proofs and gas per account-day a guarded account needs in a calm and a volatile week
# (docs/operations.md, "The cost to stay safe"; build/bench/staysafe.json, ~4 min)
staysafe: install
	$(PY) -m benchmarks.staysafe

# calibration of the liquidation forecast over the shipped daily history (docs/forecast.md):
# predicted vs realized breach frequency, build/bench/backtest.json (~2-3 min on 2 cores)
backtest: install
	$(PY) benchmarks/backtest.py

clean:
	-test -x $(ZK) && $(ZK) chain down
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis

distclean: clean
	rm -rf node_modules $(VENV)
