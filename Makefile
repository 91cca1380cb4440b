# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mirror-neurons run --preset demo --out runs/demo --workers 2

# the full suite, then the linter and the formatter's check (configured in pyproject.toml)
test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/ruff check
	$(BIN)/ruff format --check

# the inner loop: every test not marked slow (end-to-end, subprocesses, Ray, real datasets, training runs)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"
	$(BIN)/ruff check
	$(BIN)/ruff format --check

lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/ruff format --check

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs build *.egg-info
