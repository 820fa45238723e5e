# Slipway: `make demo` runs the whole loop on the embedded cloud, `make demo-drift` its monitoring, `make demo-chain` a promotion from one environment to the next; `make test` runs the tests.
# Every target installs what it needs into .venv and node_modules first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ENV ?= local
# The CDK CLI and jsii run on the Node.js that package.json pins (an LTS release), not the
# machine's, which may be past its end of life.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_VERSION_CHECK := 1

EXAMPLES := iris onnx python house spam churn xgboost

.PHONY: demo-drift demo-chain soak docs $(addprefix example-,$(EXAMPLES)) bench-serving bench-registry bench-monitor bench-console console-screenshots setup demo test test-unit test-infra test-serving test-workflow synth lint format down clean

setup: $(VENV)/.installed node_modules/.installed

# Debian's Chromium drives the console's browser tests: playwright's own browser download
# cannot run where only package registries are reachable (docs/console.md).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

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

demo-drift: setup
	bash examples/demo-drift.sh

demo-chain: setup
	bash examples/demo-chain.sh

# The layers without a deployed cloud on both cores; the workflow tests after them, a module
# at a time on each core (--dist loadfile: each worker process deploys its own embedded cloud,
# and a module's tests stay together in order). The environment chain's module runs in a
# process of its own: moto's backends are process-wide, and the second environment it
# deploys (local-prod, with its queues and rules) would stay in them under the modules after
# it (their uploads to local then never started a promotion). --durations names the slowest.
CHAIN_TESTS = tests/workflow/test_environment_chain.py
test: setup $(CHROMIUM)
	$(BIN)/pytest -n 2 -m "not workflow and not soak" --durations=15
	$(BIN)/pytest -m workflow -n 2 --dist loadfile --ignore=$(CHAIN_TESTS) --durations=15
	$(BIN)/pytest -m workflow $(CHAIN_TESTS) --durations=5

# Each example runs end to end on the embedded cloud: train, package, push, promote, invoke.
$(addprefix example-,$(EXAMPLES)): setup
	bash examples/run.sh $(subst example-,,$@)

docs: setup
	$(BIN)/python -m slipway.cli_docs > docs/cli.md

test-unit test-infra test-serving test-workflow: setup
	$(BIN)/pytest -m $(subst test-,,$@)

# Minutes of concurrent pushes, killed workers and a stopped execution while clients call
# the endpoint; prints the figures docs/performance.md records.
soak: setup
	$(BIN)/pytest -m soak tests/soak -s

synth: setup
	npx cdk synth -c env=$(ENV) --quiet

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The MLflow baseline lives in its own environment so its pins never touch the project's.
.venv-bench-mlflow/.installed: bench/requirements-mlflow.txt
	$(PYTHON) -m venv .venv-bench-mlflow
	.venv-bench-mlflow/bin/pip install --quiet -r bench/requirements-mlflow.txt
	touch $@

bench-serving: setup .venv-bench-mlflow/.installed
	$(BIN)/python bench/serving.py

bench-registry: setup
	$(BIN)/python bench/registry.py

# The console's pages on an embedded registry of 1,000 models x 10 versions (docs/console.md).
bench-console: setup
	$(BIN)/python bench/console.py

# The pictures in docs/console.md: the demo model through the gate, the console's pages.
console-screenshots: setup $(CHROMIUM)
	$(BIN)/python bench/console_screenshots.py

# Evidently, the drift tool a team would otherwise reach for, in its own environment too.
.venv-bench-evidently/.installed: bench/requirements-evidently.txt
	$(PYTHON) -m venv .venv-bench-evidently
	.venv-bench-evidently/bin/pip install --quiet -r bench/requirements-evidently.txt
	touch $@

bench-monitor: setup .venv-bench-evidently/.installed
	$(BIN)/python bench/monitor.py

down: setup
	$(BIN)/slipway local down

clean:
	rm -rf $(VENV) .venv-bench-mlflow .venv-bench-evidently node_modules cdk.out .slipway .pytest_cache .ruff_cache
