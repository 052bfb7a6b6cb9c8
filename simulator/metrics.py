"""What a run records, and how it becomes LoadSummary objects and CloudWatch-style samples.

Each finished request appends three numbers (intended start, latency, packed flags); the
resources' gauges are snapshot once a simulated second. Everything else (percentiles,
hit ratios, per-second series) is computed with numpy after the run, so recording costs
the model almost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sandbox.metrics.schema import LOAD_SOURCE, Sample
from sandbox.workload.spec import (
    ERROR_KINDS,
    CacheSummary,
    LatencySummary,
    LoadSummary,
)

CODES: dict[str, int] = {kind: index + 1 for index, kind in enumerate(ERROR_KINDS)}
"""Error kind -> code in the flags (0 is success)."""

_HIT_SHIFT, _WRITE_BIT, _STALE_BIT, _PHASE_SHIFT = 3, 32, 64, 8


def hit_flags(phase_index: int) -> int:
    """Packed flags of a successful cache hit in the phase ``phase_index``."""
    return (1 << _HIT_SHIFT) | (phase_index << _PHASE_SHIFT)


class Recorder:
    """Request outcomes and per-second gauges of one run."""

    def __init__(self) -> None:
        self.t0: list[float] = []
        self.latency: list[float] = []
        self.flags: list[int] = []
        self.gauges: list[tuple[float, str, str, float]] = []  # (ts, source, metric, value)

    def add(
        self,
        t0: float,
        latency: float,
        code: int,
        hit: int,
        write: bool,
        stale: bool,
        phase: object,
    ) -> None:
        """One finished request (``phase`` must have an ``index``)."""
        self.t0.append(t0)
        self.latency.append(latency)
        self.flags.append(
            code
            | (hit << _HIT_SHIFT)
            | (_WRITE_BIT if write else 0)
            | (_STALE_BIT if stale else 0)
            | (phase.index << _PHASE_SHIFT)  # type: ignore[attr-defined]
        )

    def gauge(self, ts: float, source: str, metric: str, value: float) -> None:
        """One sampled gauge value."""
        self.gauges.append((ts, source, metric, value))

    def outcomes(self) -> Outcomes:
        """The recorded requests as numpy arrays."""
        flags = np.asarray(self.flags, dtype=np.int64)
        return Outcomes(
            t0=np.asarray(self.t0, dtype=float),
            latency=np.asarray(self.latency, dtype=float),
            code=flags & 7,
            hit=(flags >> _HIT_SHIFT) & 3,
            write=(flags & _WRITE_BIT) != 0,
            stale=(flags & _STALE_BIT) != 0,
            phase=flags >> _PHASE_SHIFT,
        )


@dataclass
class Outcomes:
    """Per-request arrays of a run."""

    t0: np.ndarray
    latency: np.ndarray
    code: np.ndarray
    hit: np.ndarray
    write: np.ndarray
    stale: np.ndarray
    phase: np.ndarray
    end: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.end = self.t0 + self.latency

    def summary(self, mask: np.ndarray | None, duration: float) -> LoadSummary:
        """The LoadSummary of the requests selected by ``mask`` (all when None).

        ``ops`` counts successful requests, ``errors`` failed ones, ``throughput`` is
        ops per second of load; latency percentiles cover every request, a failed one
        at its time to failure.
        """
        pick = np.ones(len(self.t0), dtype=bool) if mask is None else mask
        code = self.code[pick]
        latency_ms = self.latency[pick] * 1000
        ok = int(np.count_nonzero(code == 0))
        hits = int(np.count_nonzero(self.hit[pick] == 1))
        misses = int(np.count_nonzero(self.hit[pick] == 2))
        writes = int(np.count_nonzero(self.write[pick]))
        by_kind = {
            kind: int(np.count_nonzero(code == number))
            for kind, number in CODES.items()
            if np.any(code == number)
        }
        latency = LatencySummary()
        if len(latency_ms):
            p50, p95, p99 = np.percentile(latency_ms, [50, 95, 99])
            latency = LatencySummary(
                p50=float(p50),
                p95=float(p95),
                p99=float(p99),
                max=float(latency_ms.max()),
                mean=float(latency_ms.mean()),
            )
        return LoadSummary(
            ops=ok,
            errors=len(code) - ok,
            throughput=ok / duration if duration > 0 else 0.0,
            latency_ms=latency,
            cache=CacheSummary(
                hits=hits,
                misses=misses,
                hit_ratio=hits / (hits + misses) if hits + misses else 0.0,
            ),
            errors_by_kind=by_kind,
            duration_s=duration,
            reads=len(code) - writes,
            writes=writes,
            stale_reads=int(np.count_nonzero(self.stale[pick])),
            source="simulator",
        )

    def load_samples(self, epoch: float, seconds: int, cache_source: str) -> list[Sample]:
        """Per-second application series (source ``load``) and the cache's hits/misses,
        bucketed by completion time."""
        samples: list[Sample] = []
        second = np.floor(self.end).astype(np.int64)
        order = np.argsort(second, kind="stable")
        bounds = np.searchsorted(second[order], np.arange(seconds + 1))
        for s in range(seconds):
            chosen = order[bounds[s] : bounds[s + 1]]
            ts = epoch + s + 1
            code, hit = self.code[chosen], self.hit[chosen]
            hits = float(np.count_nonzero(hit == 1))
            misses = float(np.count_nonzero(hit == 2))
            values: dict[str, float] = {
                "Requests": float(len(chosen)),
                "Errors": float(np.count_nonzero(code)),
                "StaleReads": float(np.count_nonzero(self.stale[chosen])),
                "CacheHitRatio": 100 * hits / (hits + misses) if hits + misses else 0.0,
            }
            if len(chosen):
                lat = self.latency[chosen] * 1000
                p50, p95, p99 = np.percentile(lat, [50, 95, 99])
                values |= {
                    "RequestLatencyP50": float(p50),
                    "RequestLatencyP95": float(p95),
                    "RequestLatencyP99": float(p99),
                    "RequestLatencyMax": float(lat.max()),
                }
            samples.extend(Sample(ts, LOAD_SOURCE, name, v) for name, v in values.items())
            samples.append(Sample(ts, cache_source, "CacheHits", hits))
            samples.append(Sample(ts, cache_source, "CacheMisses", misses))
        return samples

    def recovery_after(self, at: float) -> float | None:
        """Seconds from ``at`` until the first success of a database-touching request
        (writes if there are any) issued at or after ``at``; None if none succeeded."""
        after = (self.t0 >= at) & (self.code == 0)
        writes = after & self.write
        chosen = writes if np.any(self.write) else after & (self.hit != 1)
        if not np.any(chosen):
            return None
        return float(self.end[chosen].min() - at)


def gauge_samples(gauges: Sequence[tuple[float, str, str, float]], epoch: float) -> list[Sample]:
    """Gauges as Samples on the run's epoch."""
    return [Sample(epoch + ts, source, metric, value) for ts, source, metric, value in gauges]
