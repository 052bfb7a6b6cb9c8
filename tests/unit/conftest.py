"""Fixtures shared by the unit tests: a real Cluster object that never starts anything."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.binaries import Binaries
from sandbox.config import config_from_mapping
from sandbox.credentials import Credentials
from sandbox.privileges import RunAs
from sandbox.statedir import StateDir
from sandbox.supervisor.cluster import REQUIRED_BINARIES, Cluster

MakeCluster = Callable[..., Cluster]


@pytest.fixture
def make_cluster(tmp_path: Path) -> MakeCluster:
    """Factory of Clusters built from a config mapping; binaries are /bin/true, the run-as
    user is the current one (no chown) and the state dir lives under ``tmp_path``."""

    def make(config: dict[str, Any] | None = None, state_name: str = "state") -> Cluster:
        state = StateDir(tmp_path / state_name).ensure()
        binaries = Binaries({name: Path("/bin/true") for name in REQUIRED_BINARIES})
        return Cluster(
            config_from_mapping(config or {}),
            state,
            binaries,
            RunAs("me"),
            Credentials.generate(),
        )

    return make
