"""``CPUUtilization`` of each server from the CPU time of its process tree in /proc.

A PostgreSQL node is a postmaster and its backends; Redis forks for snapshots. The CPU
time of a tree (user + system, including reaped children, so short-lived backends count)
grows by so many clock ticks per second; as a percentage of all the machine's CPUs, like
CloudWatch's share of the instance's vCPUs. One pass over /proc serves every server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from sandbox.metrics.samplers.base import Rates
from sandbox.metrics.schema import Sample
from sandbox.process import ProcStat, descendants, process_table

Targets = Callable[[], list[tuple[str, int | None]]]
"""The servers to measure right now: (component name, pid of the root process or None)."""


def tree_ticks(pid: int, table: Mapping[int, ProcStat]) -> int | None:
    """CPU clock ticks used by ``pid`` and its descendants (None when it is gone)."""
    if pid not in table:
        return None
    return sum(table[p].cpu_ticks for p in [pid, *descendants(pid, table)] if p in table)


def cpu_percent(ticks_per_second: float, hertz: float, cpus: int) -> float:
    """Ticks per second as a percentage of all CPUs."""
    return 100.0 * ticks_per_second / hertz / max(1, cpus)


class CpuSampler:
    """CPUUtilization of every target, from one read of the process table."""

    name = "cpu"

    def __init__(
        self,
        targets: Targets,
        table: Callable[[], Mapping[int, ProcStat]] = process_table,
        cpus: int | None = None,
    ) -> None:
        self._targets = targets
        self._table = table
        self._cpus = cpus or os.cpu_count() or 1
        self._hertz = float(os.sysconf("SC_CLK_TCK"))
        self._rates = Rates()

    def sample(self, now: float) -> list[Sample]:
        """One CPUUtilization sample per live target (from its second sample on)."""
        table = self._table()
        samples = []
        for name, pid in self._targets():
            ticks = tree_ticks(pid, table) if pid is not None else None
            if ticks is None:
                continue
            # Keyed by pid too: a restarted server starts a new count.
            rate = self._rates.rate(f"{name}:{pid}", ticks, now)
            if rate is not None:
                samples.append(
                    Sample(now, name, "CPUUtilization", cpu_percent(rate, self._hertz, self._cpus))
                )
        return samples

    def close(self) -> None:
        """Nothing to release."""
