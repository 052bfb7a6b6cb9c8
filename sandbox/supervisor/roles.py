"""Current roles of the database and cache nodes, persisted so a restart keeps them.

After a failover the Multi-AZ standby is the primary; ``down`` then ``up`` must bring the
sandbox back that way, not re-promote the original node over newer data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from sandbox.topology import Topology

PgRole = Literal["primary", "standby", "replica"]
CacheRole = Literal["primary", "replica"]


@dataclass(frozen=True)
class Roles:
    """Which PostgreSQL node is the primary and which the standby; which Redis node leads."""

    pg_primary: str
    pg_standby: str | None
    cache_primary: str

    @classmethod
    def initial(cls, topology: Topology) -> Roles:
        """Roles of a new sandbox: AZ a leads, AZ b stands by, the first Redis node leads."""
        pair = topology.multi_az_pair
        return cls(pair[0], pair[1] if len(pair) > 1 else None, topology.redis_nodes[0])

    @classmethod
    def load(cls, path: Path, topology: Topology) -> Roles:
        """Stored roles when they still fit the topology, else the initial ones."""
        try:
            data = json.loads(path.read_text())
            primary, standby, cache = (
                data["pg_primary"],
                data.get("pg_standby"),
                data["cache_primary"],
            )
        except (OSError, ValueError, KeyError, TypeError):
            return cls.initial(topology)
        if not (isinstance(primary, str) and isinstance(cache, str)):
            return cls.initial(topology)
        pair = set(topology.multi_az_pair)
        if len(pair) > 1:
            # Multi-AZ: the pair holds the primary and the standby, in either order.
            fits = isinstance(standby, str) and {primary, standby} == pair
        else:
            # Single-AZ: no standby; the primary may be a promoted read replica.
            fits = standby is None and primary in topology.postgres_nodes
        if fits and cache in topology.redis_nodes:
            return cls(primary, standby, cache)
        return cls.initial(topology)

    def save(self, path: Path) -> None:
        """Persist atomically."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2))
        tmp.replace(path)

    def pg_role(self, node: str) -> PgRole:
        """Role of a PostgreSQL node."""
        if node == self.pg_primary:
            return "primary"
        return "standby" if node == self.pg_standby else "replica"

    def cache_role(self, node: str) -> CacheRole:
        """Role of a Redis node."""
        return "primary" if node == self.cache_primary else "replica"

    def with_cache_primary(self, node: str) -> Roles:
        """A copy with a new Redis primary."""
        return replace(self, cache_primary=node)
