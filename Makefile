# Everyday commands; scripts/setup.sh and scripts/test.sh do the real work.
# `make test PYTEST_ARGS="tests/unit -q"` passes arguments through to pytest.

SHELL := /bin/bash
BIN := .venv/bin
PYTEST_ARGS ?=

.PHONY: setup test demo bench lint clean

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh $(PYTEST_ARGS)

demo: setup
	$(BIN)/rdsbox up
	$(BIN)/rdsbox demo --dashboard

bench: setup
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/endpoints.py
	$(BIN)/python benchmarks/collector_overhead.py
	$(BIN)/python benchmarks/simulator.py

lint: setup
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy

# Only the virtual environment and caches inside this checkout; never .rdsbox/ (sandbox state).
clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache build *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
