"""The example clients in examples/ (Python; Node.js with pg, ioredis and the AWS SDK v3)
run the reference flow against a live sandbox, configured only from `rdsbox env`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.client_env import ENV_NAMES
from tests.support import EXAMPLES, Sandbox, run_example

pytestmark = pytest.mark.integration

NODE_DIR = EXAMPLES / "node"
# npm's messages when the registry cannot be reached (the one reason to skip).
_OFFLINE_MARKS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "network")


def test_env_names_are_the_contract(sandbox: Sandbox) -> None:
    assert list(sandbox.env()) == list(ENV_NAMES)


def test_python_client(sandbox: Sandbox) -> None:
    result = run_example(sandbox, [sys.executable, "reference_flow.py"], EXAMPLES / "python")
    assert result["name"] == "Augusta Ada King"


@pytest.fixture(scope="session")
def node_packages() -> Path:
    """examples/node with its node_modules (scripts/setup.sh installs them; `npm ci` here
    when it has not). Skips only when npm cannot reach the registry."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js and npm are missing: run `bash scripts/setup.sh`"
    if not (NODE_DIR / "node_modules" / "pg").is_dir():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            output = done.stdout + done.stderr
            if any(mark in output for mark in _OFFLINE_MARKS):
                pytest.skip(
                    f"npm ci could not reach the npm registry (no network): {output[-300:]}"
                )
            raise AssertionError(f"npm ci failed in {NODE_DIR}:\n{output}")
    return NODE_DIR


def test_node_client(sandbox: Sandbox, node_packages: Path) -> None:
    node = shutil.which("node")
    assert node is not None
    result = run_example(sandbox, [node, "reference_flow.js"], node_packages)
    assert result["name"] == "Grace Brewster Hopper"
