"""Shared fixtures: a reachable temporary root for state dirs, distinct port ranges, and
sandboxes that are always stopped and purged at the end."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Sandbox

# Well below the ephemeral range (32768+) and clear of the defaults (15400) and of the
# benchmarks (21000); each sandbox takes 50 ports. xdist workers get separate blocks.
# RDSBOX_TEST_PORT_BASE moves the block, so test runs in separate checkouts can coexist.
_DEFAULT_FIRST_BASE = 24000


@pytest.fixture(scope="session")
def state_root() -> Iterator[Path]:
    """A directory for state dirs that the unprivileged database user can traverse (when
    tests run as root, PostgreSQL runs as `postgres`; pytest's tmp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="rdsbox-t-", dir="/tmp"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def port_bases() -> Iterator[int]:
    """An endless supply of distinct port bases for this test process."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    offset = int(worker) * 1000 if worker.isdigit() else 0
    first = int(os.environ.get("RDSBOX_TEST_PORT_BASE", _DEFAULT_FIRST_BASE))
    return itertools.count(first + offset, 50)


@pytest.fixture(scope="session")
def make_sandbox(state_root: Path, port_bases: Iterator[int]) -> Iterator[Callable[..., Sandbox]]:
    """Factory of sandboxes (not started); every one is stopped and purged at the end."""
    made: list[Sandbox] = []
    names = itertools.count(1)

    def make(config: dict[str, Any] | None = None, **env: str) -> Sandbox:
        box = Sandbox(state_root / f"s{next(names)}", next(port_bases), config or {}, env)
        made.append(box)
        return box

    yield make
    for box in made:
        # Through the CLI where something may still run; a never-started one is just files.
        if list(box.processes()):
            box.rdsbox("down", "--purge", timeout=60)
        shutil.rmtree(box.state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Iterator[Sandbox]:
    """One running sandbox with the default topology, shared by a module's read-mostly
    tests. Per module, not per session: a module's tests must not depend on what another
    module did to it (a session-wide one once lost every PostgreSQL node to a background
    job of the dashboard tests; fixed, see docs/known-issues.md)."""
    box = make_sandbox()
    box.up()
    yield box
    box.down("--purge")
