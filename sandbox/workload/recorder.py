"""Request statistics with mergeable HDR histograms (one recorder per worker process).

Application threads fire one event per request into a :class:`Recorder`; every second the
worker takes the interval's :class:`Stats` and ships it to the parent as a plain dict (the
histogram HDR-encoded), where the workers' stats are merged. Latencies are recorded in
microseconds, from 1 us to 10 minutes, at 3 significant digits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from sandbox.workload.spec import ERROR_KINDS, ErrorKind, LatencySummary

_LOWEST_US, _HIGHEST_US, _DIGITS = 1, 600_000_000, 3
TICK_S = 0.01
"""Resolution of the successful-write timeline (``Stats.write_ok``): 10 ms."""
_COUNTERS = ("ops", "errors", "reads", "writes", "hits", "misses", "stale")
PERCENTILE_GRID: tuple[float, ...] = (*range(100), 99.5, 99.9, 100.0)
"""Percentiles kept of a run's distributions (the simulator's calibration samples them)."""


def new_histogram() -> HdrHistogram:
    """An empty latency histogram (microseconds)."""
    return HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)


def summarize(h: HdrHistogram) -> LatencySummary:
    """Percentiles in milliseconds of a microsecond histogram."""
    if h.get_total_count() == 0:
        return LatencySummary()
    return LatencySummary(
        p50=h.get_value_at_percentile(50) / 1000,
        p95=h.get_value_at_percentile(95) / 1000,
        p99=h.get_value_at_percentile(99) / 1000,
        max=h.get_max_value() / 1000,
        mean=h.get_mean_value() / 1000,
    )


def percentiles(h: HdrHistogram) -> dict[float, float]:
    """Milliseconds at each of :data:`PERCENTILE_GRID` (empty when nothing was recorded)."""
    if h.get_total_count() == 0:
        return {}
    return {p: h.get_value_at_percentile(p) / 1000 for p in PERCENTILE_GRID}


@dataclass
class Stats:
    """Counters and latency histograms over some span of requests.

    ``histogram`` is the latency from each request's intended start; ``start_delay`` how
    late the request started (the load generator's own scheduling delay, open loop) and
    ``service`` the rest, from the actual start to the answer.
    """

    histogram: HdrHistogram = field(default_factory=new_histogram)
    start_delay: HdrHistogram = field(default_factory=new_histogram)
    service: HdrHistogram = field(default_factory=new_histogram)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0))
    errors_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    write_ok: set[int] = field(default_factory=set)
    """The 10-ms ticks (since the run's start) in which at least one write succeeded: the
    per-request timeline that failover downtime is measured from, at a bounded size."""

    def add(self, other: Stats) -> None:
        """Merge ``other`` into this."""
        self.histogram.add(other.histogram)
        self.start_delay.add(other.start_delay)
        self.service.add(other.service)
        self.write_ok |= other.write_ok
        for name, value in other.counts.items():
            self.counts[name] = self.counts.get(name, 0) + value
        for kind, value in other.errors_by_kind.items():
            self.errors_by_kind[kind] = self.errors_by_kind.get(kind, 0) + value

    def latency(self) -> LatencySummary:
        """Percentiles in milliseconds."""
        return summarize(self.histogram)

    def to_wire(self) -> dict[str, Any]:
        """A picklable, compact form for the parent process."""
        return {
            "histogram": self.histogram.encode(),
            "start_delay": self.start_delay.encode(),
            "service": self.service.encode(),
            "counts": self.counts,
            "errors_by_kind": self.errors_by_kind,
            "write_ok": sorted(self.write_ok),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Stats:
        """The inverse of :meth:`to_wire`."""

        def decoded(name: str) -> HdrHistogram:
            histogram = new_histogram()
            if data.get(name):
                histogram.add(HdrHistogram.decode(data[name]))
            return histogram

        return cls(
            decoded("histogram"),
            decoded("start_delay"),
            decoded("service"),
            dict(data["counts"]),
            dict(data["errors_by_kind"]),
            set(data.get("write_ok", ())),
        )


def longest_gap(times: Iterable[float], start: float, end: float) -> tuple[float, float]:
    """The longest stretch of ``[start, end]`` holding none of ``times``, as ``(length,
    where it began)``; the run's edges count, so a service that never came back shows the
    rest of the run as its gap."""
    best, best_at, previous = 0.0, start, start
    for t in sorted(t for t in times if start <= t <= end):
        if t - previous > best:
            best, best_at = t - previous, previous
        previous = t
    if end - previous > best:
        best, best_at = end - previous, previous
    return best, best_at


def _micros(seconds: float) -> int:
    return min(max(int(seconds * 1_000_000), _LOWEST_US), _HIGHEST_US)


class Recorder:
    """Thread-safe sink of request events for the current interval (the parent sums the
    intervals into the run's totals)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._interval = Stats()

    def record(
        self,
        latency_s: float,
        read: bool,
        error: ErrorKind | None = None,
        hit: bool | None = None,
        stale: bool = False,
        tick: int | None = None,
        start_delay_s: float | None = None,
    ) -> None:
        """One finished request (successful unless ``error``); ``tick`` is when it finished,
        in :data:`TICK_S` steps since the run's start; ``start_delay_s`` how late it started
        (None: it never did, so it has no split into delay and service)."""
        with self._lock:
            stats = self._interval
            stats.histogram.record_value(_micros(latency_s))
            if start_delay_s is not None:
                stats.start_delay.record_value(_micros(start_delay_s))
                stats.service.record_value(_micros(latency_s - start_delay_s))
            counts = stats.counts
            if error is not None:
                counts["errors"] += 1
                stats.errors_by_kind[error] += 1
            else:
                counts["ops"] += 1
                if not read and tick is not None:
                    stats.write_ok.add(tick)
            counts["reads" if read else "writes"] += 1
            if hit is not None:
                counts["hits" if hit else "misses"] += 1
            counts["stale"] += stale

    def take_interval(self) -> Stats:
        """The stats since the last call (and start a new interval)."""
        with self._lock:
            taken, self._interval = self._interval, Stats()
        return taken
