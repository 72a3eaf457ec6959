# PrintFarm: every target creates .venv and installs what it needs, so a fresh clone needs only
# `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
# Two test workers (the machines this runs on have 2 cores). execnet must run tests on each
# worker's main thread: on a side thread CPython 3.11.7's AST validator can fail with
# "recursion depth mismatch" while pytest rewrites assertions.
PYTEST_PARALLEL ?= -n 2 --tx '2*popen//execmodel=main_thread_only'

.PHONY: setup demo test test-fast test-slow lint format clean system-deps

setup: $(STAMP)

# System packages the suites use (Mosquitto for TLS MQTT tests, curl for FTPS checks).
system-deps:
	@./.ci/system-deps

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: setup
	$(VENV)/bin/printfarm demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Everything, slow suites included (CI runs this).
test: setup lint
	$(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest $(PYTEST_PARALLEL) -m "not slow" $(PYTEST_ARGS)

test-slow: setup
	$(PY) -m pytest $(PYTEST_PARALLEL) -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
