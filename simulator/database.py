"""Database nodes: parallel workers with queueing, connection limits and availability.

A node runs at most ``workers`` queries at once (its vCPUs, or the calibrated figure) in
FIFO order; with the free times of the workers in a heap, a query's completion time is
known when it arrives (the Kiefer-Wolfowitz recursion), so it costs one heap operation and
no event. ``epoch`` counts crashes: a connection or a query from an older epoch is dead.
"""

from __future__ import annotations

from heapq import heapreplace
from typing import Any

from simulator.random_streams import Stream

# vCPUs per size; burstable classes have 2 up to large. Memory-optimised and general
# purpose classes share the ladder (large = 2 vCPUs, doubling with each size).
_VCPUS = {
    "micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4, "2xlarge": 8,
    "4xlarge": 16, "8xlarge": 32, "12xlarge": 48, "16xlarge": 64, "24xlarge": 96,
}  # fmt: skip


def instance_vcpus(instance_class: str) -> int:
    """vCPUs of an RDS instance class such as ``db.r6g.large`` (2 when unknown)."""
    size = instance_class.rsplit(".", 1)[-1]
    if instance_class.startswith(("db.t3.", "db.t4g.")) and size in ("xlarge", "2xlarge"):
        return {"xlarge": 4, "2xlarge": 8}[size]
    return _VCPUS.get(size, 2)


class DbNode:
    """One PostgreSQL node (primary, standby or read replica)."""

    __slots__ = (
        "busy",
        "conns",
        "epoch",
        "extra",
        "frozen_until",
        "inflight",
        "max_conns",
        "name",
        "peak_conns",
        "queries",
        "read_time",
        "role",
        "up",
        "workers",
        "write_time",
    )

    def __init__(
        self,
        name: str,
        role: str,
        workers: int,
        max_conns: int,
        read_time: Stream,
        write_time: Stream,
    ) -> None:
        self.name = name
        self.role = role  # primary | standby | replica
        self.workers = [0.0] * workers  # a heap of the workers' free times
        self.max_conns = max_conns
        self.read_time = read_time
        self.write_time = write_time
        self.conns = 0
        self.peak_conns = 0
        self.epoch = 0
        self.up = True
        self.frozen_until = 0.0
        self.extra = 0.0  # injected latency (s) per query
        self.queries = 0
        self.busy = 0.0
        self.inflight: set[Any] = set()

    def connect(self) -> bool:
        """Open a connection; False when the node is down or ``max_connections`` is full."""
        if not self.up or self.conns >= self.max_conns:
            return False
        self.conns += 1
        self.peak_conns = max(self.peak_conns, self.conns)
        return True

    def disconnect(self, epoch: int) -> None:
        """Close a connection opened in ``epoch`` (connections of a dead epoch are gone)."""
        if epoch == self.epoch and self.conns > 0:
            self.conns -= 1

    def execute(self, now: float, write: bool, commit_extra: float) -> float:
        """Run one query arriving at ``now``; return when it completes (server side)."""
        service = (self.write_time.next() + commit_extra) if write else self.read_time.next()
        workers = self.workers
        free = workers[0]
        start = now if now > free else free
        start = max(start, self.frozen_until)
        heapreplace(workers, start + service)
        self.queries += 1
        self.busy += service
        return start + service + self.extra

    def crash(self) -> None:
        """The process dies: every connection and query is lost."""
        self.up = False
        self.epoch += 1
        self.conns = 0
        self.workers = [0.0] * len(self.workers)

    def restart(self) -> None:
        """The node accepts connections again (its queues are empty)."""
        self.up = True
