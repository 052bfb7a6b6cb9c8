"""Unit tests of the persisted node roles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.config import config_from_mapping
from sandbox.supervisor.roles import Roles
from sandbox.topology import Topology


def topology(data: dict[str, Any] | None = None) -> Topology:
    """A topology of a validated configuration."""
    return Topology(config_from_mapping(data or {}))


DEFAULT = topology()
SINGLE_AZ = topology({"database": {"multi_az": False}})


def test_initial_roles_multi_az() -> None:
    roles = Roles.initial(DEFAULT)
    assert roles == Roles("app-primary-db-a", "app-primary-db-b", "app-redis-cluster-001")


def test_initial_roles_single_az() -> None:
    assert Roles.initial(SINGLE_AZ) == Roles("app-primary-db-a", None, "app-redis-cluster-001")


def test_role_names() -> None:
    roles = Roles.initial(DEFAULT)
    assert roles.pg_role("app-primary-db-a") == "primary"
    assert roles.pg_role("app-primary-db-b") == "standby"
    assert roles.pg_role("app-primary-db-replica-0") == "replica"
    assert roles.cache_role("app-redis-cluster-001") == "primary"
    assert roles.cache_role("app-redis-cluster-002") == "replica"


def test_with_cache_primary_is_a_copy() -> None:
    roles = Roles.initial(DEFAULT)
    moved = roles.with_cache_primary("app-redis-cluster-002")
    assert moved.cache_primary == "app-redis-cluster-002"
    assert moved.pg_primary == roles.pg_primary
    assert roles.cache_primary == "app-redis-cluster-001"


@pytest.mark.parametrize("topo", [DEFAULT, SINGLE_AZ], ids=["multi-az", "single-az"])
def test_save_load_round_trip(tmp_path: Path, topo: Topology) -> None:
    roles = Roles.initial(topo).with_cache_primary("app-redis-cluster-003")
    path = tmp_path / "topology.json"
    roles.save(path)
    assert Roles.load(path, topo) == roles
    assert not path.with_suffix(".tmp").exists()


def test_a_failed_over_pair_is_kept(tmp_path: Path) -> None:
    swapped = Roles("app-primary-db-b", "app-primary-db-a", "app-redis-cluster-002")
    path = tmp_path / "topology.json"
    swapped.save(path)
    assert Roles.load(path, DEFAULT) == swapped


def test_missing_file_gives_initial_roles(tmp_path: Path) -> None:
    assert Roles.load(tmp_path / "missing.json", DEFAULT) == Roles.initial(DEFAULT)


def stored(tmp_path: Path, data: Any) -> Path:
    """Write ``data`` as JSON to a topology file."""
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "data",
    [
        {"pg_primary": "other-db-a", "pg_standby": "app-primary-db-b",
         "cache_primary": "app-redis-cluster-001"},
        {"pg_primary": "app-primary-db-b", "pg_standby": "unknown",
         "cache_primary": "app-redis-cluster-001"},
        {"pg_primary": "app-primary-db-b", "pg_standby": "app-primary-db-a",
         "cache_primary": "app-redis-cluster-009"},
        {"pg_primary": "app-primary-db-b", "pg_standby": None,
         "cache_primary": "app-redis-cluster-002"},
        {"pg_standby": "app-primary-db-a", "cache_primary": "app-redis-cluster-002"},
        {"pg_primary": "app-primary-db-a", "pg_standby": ["app-primary-db-b"],
         "cache_primary": "app-redis-cluster-001"},
        {"pg_primary": "app-primary-db-a", "pg_standby": "app-primary-db-a",
         "cache_primary": "app-redis-cluster-001"},
        {"pg_primary": "app-primary-db-a", "pg_standby": "app-primary-db-replica-0",
         "cache_primary": "app-redis-cluster-001"},
        [],
        None,
    ],
    ids=[
        "unknown-primary",
        "unknown-standby",
        "unknown-cache-primary",
        "standby-missing-though-multi-az",
        "no-primary-key",
        "standby-not-a-string",
        "standby-is-the-primary",
        "replica-as-standby",
        "a-list",
        "null",
    ],
)  # fmt: skip
def test_stored_roles_that_do_not_fit_fall_back(tmp_path: Path, data: Any) -> None:
    assert Roles.load(stored(tmp_path, data), DEFAULT) == Roles.initial(DEFAULT)


def test_multi_az_switched_off_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "topology.json"
    Roles("app-primary-db-a", "app-primary-db-b", "app-redis-cluster-002").save(path)
    assert Roles.load(path, SINGLE_AZ) == Roles.initial(SINGLE_AZ)


def test_fewer_cache_nodes_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "topology.json"
    Roles("app-primary-db-b", "app-primary-db-a", "app-redis-cluster-003").save(path)
    smaller = topology({"cache": {"num_cache_clusters": 2}})
    assert Roles.load(path, smaller) == Roles.initial(smaller)


def test_garbled_file_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "topology.json"
    path.write_text("{not json")
    assert Roles.load(path, DEFAULT) == Roles.initial(DEFAULT)
