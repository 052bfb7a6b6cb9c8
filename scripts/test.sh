#!/usr/bin/env bash
# The full check: setup, then lint, format check, type check and the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/unit -q`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --with-browser: the dashboard's browser test drives a headless Chromium.
bash scripts/setup.sh --with-browser

py=.venv/bin/python

# Run one stage; on failure say which one and exit with its status.
stage() {
    local name=$1 rc=0
    shift
    echo "test: $name"
    "$@" || rc=$?
    if [[ $rc -ne 0 ]]; then
        if [[ $name == pytest && $rc -eq 5 ]]; then
            echo "test: FAILED: pytest collected no tests (exit 5)" >&2
        else
            echo "test: FAILED: $name (exit $rc)" >&2
        fi
        exit "$rc"
    fi
}

stage "ruff check" "$py" -m ruff check .
stage "ruff format --check" "$py" -m ruff format --check .
stage "mypy" "$py" -m mypy
stage "pytest" "$py" -m pytest "$@"

echo "test: all stages passed"
