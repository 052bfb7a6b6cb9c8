"""The cache at key level: one Redis primary as a single-threaded FIFO server.

Each command costs ``redis_op_ms`` of the one Redis thread plus a round trip (drawn); the
completion time follows from Lindley's recursion (``done = max(arrival, free) + service``),
so a command needs no event of its own. Keys hold their expiry time; an expired key is a
miss (Redis expires lazily too). With a bounded ``maxmemory`` the least recently used key
is evicted (ElastiCache's default policy is volatile-lru and every key here has a TTL).
"""

from __future__ import annotations

from collections import OrderedDict

from simulator.random_streams import Draw

# ElastiCache maxmemory (GiB) of common node types; other types need cache_maxmemory_mb.
NODE_MAXMEMORY_GIB: dict[str, float] = {
    "cache.t3.micro": 0.5,
    "cache.t4g.micro": 0.5,
    "cache.t3.small": 1.37,
    "cache.t4g.small": 1.37,
    "cache.t3.medium": 3.09,
    "cache.t4g.medium": 3.09,
    "cache.m6g.large": 6.38,
    "cache.m7g.large": 6.38,
    "cache.r6g.large": 13.07,
    "cache.r7g.large": 13.07,
    "cache.r6g.xlarge": 26.32,
    "cache.r6g.2xlarge": 52.82,
}
_DEFAULT_GIB = 13.07


def capacity_keys(node_type: str, maxmemory_mb: float | None, bytes_per_key: int) -> int:
    """How many keys fit in ``maxmemory`` (``maxmemory_mb`` or the node type's)."""
    megabytes = (
        maxmemory_mb
        if maxmemory_mb is not None
        else (NODE_MAXMEMORY_GIB.get(node_type, _DEFAULT_GIB) * 1024)
    )
    return max(1, int(megabytes * 1024 * 1024 // bytes_per_key))


class Redis:
    """The cache primary: key state, the single server thread and availability."""

    __slots__ = (
        "busy",
        "capacity",
        "down_until",
        "evictions",
        "free_at",
        "keys",
        "op",
        "round_trip",
    )

    def __init__(self, op_ms: float, round_trip: Draw, capacity: int) -> None:
        self.op = op_ms / 1000
        self.round_trip = round_trip
        self.capacity = capacity
        self.keys: OrderedDict[int, float] = OrderedDict()
        self.free_at = 0.0
        self.busy = 0.0
        self.evictions = 0
        self.down_until = -1.0  # unavailable while now < down_until

    def available(self, now: float) -> bool:
        """Whether the primary answers at ``now``."""
        return now >= self.down_until

    def command(self, now: float, commands: int = 1) -> float:
        """Queue ``commands`` (pipelined) at ``now``; return when the reply arrives."""
        service = self.op * commands
        start = now if now > self.free_at else self.free_at
        self.free_at = start + service
        self.busy += service
        return self.free_at + self.round_trip()

    def lookup(self, key: int, now: float) -> float | None:
        """GET: the key's expiry time on a hit, ``None`` on a miss (expired keys go)."""
        expiry = self.keys.get(key)
        if expiry is None:
            return None
        if expiry <= now:
            del self.keys[key]
            return None
        if len(self.keys) >= self.capacity:
            self.keys.move_to_end(key)  # LRU order matters only when memory is tight
        return expiry

    def store(self, key: int, expiry: float) -> None:
        """SET with an expiry time; evict the least recently used key when full."""
        keys = self.keys
        keys[key] = expiry
        keys.move_to_end(key)
        if len(keys) > self.capacity:
            keys.popitem(last=False)
            self.evictions += 1

    def delete(self, key: int) -> None:
        """DEL."""
        self.keys.pop(key, None)

    def lose_data(self) -> None:
        """A restart without persistence: every key is gone."""
        self.keys.clear()
