"""The figures a scenario reports and checks: pure functions over load summaries and
probe readings (unit-tested without servers).

A *figure* is a dotted name with a number: the LoadSummary keys (``errors``,
``latency_ms.p99``, ``cache.hit_ratio``, ``errors_by_kind.refused`` ...), the database's side
(``db.new_backends``, ``db.transactions``, ``db.peak_connections`` and per-request ratios),
``app.db_queries`` (the database round trips the application made: reads that missed
the cache, or every read without one, plus writes except write-behind's, which the flusher
batches), ``downtime_s`` (longest stretch without a successful write) and, for a variant with a
baseline, ``reduction_pct.X`` and ``ratio.X`` for X in :data:`COMPARED`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.workload.recorder import TICK_S, longest_gap
from sandbox.workload.spec import ERROR_KINDS, LoadSpec, LoadSummary

Figures = dict[str, float | None]

_COUNTERS = ("ops", "errors", "reads", "writes", "stale_reads", "lost_writes", "duration_s")
_LATENCIES = ("p50", "p95", "p99", "max", "mean")
DB_FIGURES = (
    "app.db_queries",
    "db.new_backends",
    "db.transactions",
    "db.peak_connections",
    "db.backends_per_request",
    "db.transactions_per_request",
    "writebehind.peak_backlog",
)
_PER_REQUEST = {
    "db.new_backends": "db.backends_per_request",
    "db.transactions": "db.transactions_per_request",
}
COMPARED = (
    "downtime_s",
    "errors",
    "throughput",
    "latency_ms.p50",
    "latency_ms.p99",
    "db.new_backends",
    "db.transactions",
    "db.peak_connections",
    "app.db_queries",
)


def known_figures() -> set[str]:
    """Every figure name an expectation may use."""
    names = {*_COUNTERS, "throughput", "downtime_s", "longest_write_gap_s", *DB_FIGURES}
    names |= {f"latency_ms.{p}" for p in _LATENCIES}
    names |= {"cache.hits", "cache.misses", "cache.hit_ratio"}
    names |= {f"errors_by_kind.{k}" for k in ERROR_KINDS}
    names |= {f"{kind}.{name}" for kind in ("reduction_pct", "ratio") for name in COMPARED}
    return names


@dataclass(frozen=True)
class PhaseResult:
    """What one phase of one variant measured."""

    name: str
    spec: LoadSpec
    summary: LoadSummary
    db: Mapping[str, float | None]


def app_db_queries(spec: LoadSpec, summary: LoadSummary) -> float:
    """The database round trips the application made (see the module docstring); failed
    requests count too, as they reached for the database or the cache all the same."""
    cached = spec.strategy != "none"
    reads = summary.cache.misses if cached else summary.reads
    writes = 0 if spec.strategy == "write-behind" else summary.writes
    return float(reads + writes)


def summary_figures(summary: LoadSummary) -> Figures:
    """The LoadSummary's figures under their dotted names."""
    figures: Figures = {name: float(getattr(summary, name)) for name in _COUNTERS}
    figures["throughput"] = summary.throughput
    figures["longest_write_gap_s"] = summary.longest_write_gap_s
    for p in _LATENCIES:
        figures[f"latency_ms.{p}"] = float(getattr(summary.latency_ms, p))
    figures["cache.hits"] = float(summary.cache.hits)
    figures["cache.misses"] = float(summary.cache.misses)
    figures["cache.hit_ratio"] = summary.cache.hit_ratio
    for kind in ERROR_KINDS:
        figures[f"errors_by_kind.{kind}"] = float(summary.errors_by_kind.get(kind, 0))
    return figures


def phase_figures(phase: PhaseResult) -> Figures:
    """One phase's figures: its summary, the database's side and per-request ratios."""
    figures = summary_figures(phase.summary)
    figures.update(phase.db)
    figures["app.db_queries"] = app_db_queries(phase.spec, phase.summary)
    figures["downtime_s"] = downtime([phase])[0] if phase.summary.writes else None
    _per_request(figures)
    return figures


def total_figures(phases: Sequence[PhaseResult]) -> Figures:
    """A variant's whole run: counters summed, rates and ratios recomputed, latency
    percentiles the worst phase's (percentiles of separate runs cannot be merged)."""
    each = [phase_figures(p) for p in phases]
    total: Figures = {}
    summed = ("cache.hits", "cache.misses", "db.new_backends", "db.transactions", "app.db_queries")
    for name in (*_COUNTERS, *summed):
        total[name] = _sum(f.get(name) for f in each)
    for kind in ERROR_KINDS:
        total[f"errors_by_kind.{kind}"] = _sum(f[f"errors_by_kind.{kind}"] for f in each)
    for name in (*(f"latency_ms.{p}" for p in _LATENCIES), "db.peak_connections"):
        total[name] = _max(f.get(name) for f in each)
    total["writebehind.peak_backlog"] = _max(f.get("writebehind.peak_backlog") for f in each)
    duration, ops = total["duration_s"] or 0.0, total["ops"] or 0.0
    total["throughput"] = ops / duration if duration else 0.0
    lookups = (total["cache.hits"] or 0.0) + (total["cache.misses"] or 0.0)
    total["cache.hit_ratio"] = (total["cache.hits"] or 0.0) / lookups if lookups else 0.0
    writes = sum(p.summary.writes for p in phases)
    total["downtime_s"] = downtime(phases)[0] if writes else None
    total["longest_write_gap_s"] = _max(f["longest_write_gap_s"] for f in each)
    _per_request(total)
    return total


def downtime(phases: Sequence[PhaseResult]) -> tuple[float, float]:
    """The longest stretch without a successful write over phases run back to back, as
    ``(seconds, where it began in seconds of load)``.

    The phases are laid end to end on one axis of load time: the moments between two phases,
    when no load runs, are not downtime; a gap that spans the boundary is joined."""
    times: list[float] = []
    offset = 0.0
    for phase in phases:
        times.extend(offset + t * TICK_S for t in phase.summary.write_ok_ticks)
        offset += phase.summary.duration_s
    return longest_gap(times, 0.0, offset)


def compare(figures: Mapping[str, float | None], base: Mapping[str, float | None]) -> Figures:
    """``reduction_pct.X`` (how much lower than the baseline, in % of it; negative when
    higher) and ``ratio.X`` (this / baseline) for X in :data:`COMPARED`."""
    out: Figures = {}
    for name in COMPARED:
        value, reference = figures.get(name), base.get(name)
        usable = value is not None and reference is not None and reference != 0
        out[f"reduction_pct.{name}"] = (
            100.0 * (reference - value) / reference if usable else None  # type: ignore[operator]
        )
        out[f"ratio.{name}"] = value / reference if usable else None  # type: ignore[operator]
    return out


def evaluate(expectation: Mapping[str, Any], figures: Mapping[str, float | None]) -> dict[str, Any]:
    """One expectation against its figures: the expectation with ``value`` and ``passed``
    (a missing figure fails, saying why)."""
    value = figures.get(str(expectation["metric"]))
    low, high = expectation.get("min"), expectation.get("max")
    result = {**expectation, "value": value}
    if value is None:
        return {**result, "passed": False, "reason": "not measured in this run"}
    if low is not None and value < low:
        return {**result, "passed": False, "reason": f"below min {low:g}"}
    if high is not None and value > high:
        return {**result, "passed": False, "reason": f"above max {high:g}"}
    return {**result, "passed": True, "reason": ""}


def _per_request(figures: Figures) -> None:
    # Per *successful* request: a refused connection never becomes a session, so counting
    # the failures would make a storm look cheaper than it is.
    requests = figures.get("ops") or 0.0
    for name, ratio in _PER_REQUEST.items():
        value = figures.get(name)
        figures[ratio] = value / requests if value is not None and requests else None


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _max(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None
