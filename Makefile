# Slipway: `make demo` runs the whole loop on the embedded cloud; `make test` runs the tests.
# Every target installs what it needs into .venv and node_modules first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ENV ?= local
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: setup demo test test-unit test-infra test-serving test-workflow synth lint format down clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	bash examples/demo.sh

test: setup
	$(BIN)/pytest

test-unit test-infra test-serving test-workflow: setup
	$(BIN)/pytest -m $(subst test-,,$@)

synth: setup
	npx cdk synth -c env=$(ENV) --quiet

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

down: setup
	$(BIN)/slipway local down

clean:
	rm -rf $(VENV) node_modules cdk.out .slipway .pytest_cache .ruff_cache
