"""ElastiCache metrics of one Redis node, from ``INFO``.

``CacheHits``, ``CacheMisses``, ``Evictions``, ``NetworkBytesIn`` and ``NetworkBytesOut``
are per-second rates of ``keyspace_hits``, ``keyspace_misses``, ``evicted_keys``,
``total_net_input_bytes`` and ``total_net_output_bytes``; ``CurrConnections`` is
``connected_clients`` (replicas excluded, as ElastiCache does; the Sentinels and rdsbox's
own checks included). ``ReplicationLag`` (replicas only): 0 when the replica has applied
everything the primary had sent just before; otherwise the bytes behind divided by the
primary's replication stream rate (seconds of the primary's writes it is behind); while
the link is down, the seconds since it went down.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

from sandbox.metrics.samplers.base import Rates, samples_of
from sandbox.metrics.schema import Sample
from sandbox.services.redis import RedisNode, kept_client

_RATES = {
    "CacheHits": "keyspace_hits",
    "CacheMisses": "keyspace_misses",
    "Evictions": "evicted_keys",
    "NetworkBytesIn": "total_net_input_bytes",
    "NetworkBytesOut": "total_net_output_bytes",
}


def replication_lag(
    info: Mapping[str, Any], primary_offset: float | None, primary_rate: float | None
) -> float | None:
    """Seconds a replica is behind (None on a primary, or when it cannot be told)."""
    if info.get("role") != "slave":
        return None
    if info.get("master_link_status") != "up":
        down = info.get("master_link_down_since_seconds", info.get("master_last_io_seconds_ago"))
        return max(0.0, float(down)) if down is not None else None
    if primary_offset is None:
        return None
    behind = primary_offset - float(info.get("slave_repl_offset", 0))
    if behind <= 0:
        return 0.0
    if primary_rate:
        return behind / primary_rate
    return max(0.0, float(info.get("master_last_io_seconds_ago", 0)))


def redis_samples(
    source: str,
    info: Mapping[str, Any],
    rates: Rates,
    now: float,
    primary_offset: float | None = None,
    primary_rate: float | None = None,
) -> list[Sample]:
    """The node's samples from one ``INFO`` answer (and the primary's offset for lag)."""
    values: dict[str, float | None] = {
        metric: rates.rate(metric, float(info[field]), now) if field in info else None
        for metric, field in _RATES.items()
    }
    values["CurrConnections"] = float(info["connected_clients"])
    values["ReplicationLag"] = replication_lag(info, primary_offset, primary_rate)
    return samples_of(source, now, values)


class RedisSampler:
    """Samples one node over its own clients (never the supervisor's)."""

    def __init__(self, node: RedisNode) -> None:
        self.node = node
        self.name = node.name
        self._rates = Rates()
        self._clients: dict[int, redis.Redis] = {}
        #: Port of the primary this node replicated from at the last sample.
        self._primary_port: int | None = None

    def sample(self, now: float) -> list[Sample]:
        """The node's samples; none while it does not answer."""
        # The primary's offset first: read after the replica's it would look ahead.
        offset = self._primary_offset() if self._primary_port is not None else None
        rate = None if offset is None else self._rates.rate("primary_offset", offset, now)
        try:
            info = self._client(self.node.port).info()
        except redis.RedisError:
            self._close(self.node.port)
            return []
        port = info.get("master_port") if info.get("role") == "slave" else None
        if port != self._primary_port:
            self._rates.forget("primary_offset")
            self._primary_port = int(port) if port is not None else None
        return redis_samples(self.name, info, self._rates, now, offset, rate)

    def _primary_offset(self) -> float | None:
        assert self._primary_port is not None
        try:
            info = self._client(self._primary_port).info("replication")
        except redis.RedisError:
            self._close(self._primary_port)
            return None
        offset = info.get("master_repl_offset")
        return float(offset) if offset is not None else None

    def _client(self, port: int) -> redis.Redis:
        if port not in self._clients:
            self._clients[port] = kept_client(port, self.node.password)
        return self._clients[port]

    def _close(self, port: int) -> None:
        client = self._clients.pop(port, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        """Close the sampler's clients."""
        for port in list(self._clients):
            self._close(port)
