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
            roles = cls(str(data["pg_primary"]), data.get("pg_standby"), str(data["cache_primary"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls.initial(topology)
        nodes = set(topology.postgres_nodes)
        standby_ok = roles.pg_standby is None or roles.pg_standby in nodes
        # Multi-AZ switched on or off since: start over from the initial roles.
        pair_ok = (roles.pg_standby is not None) == (len(topology.multi_az_pair) > 1)
        if (
            roles.pg_primary in nodes
            and standby_ok
            and pair_ok
            and (roles.cache_primary in topology.redis_nodes)
        ):
            return roles
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
