"""PNG charts of simulated runs (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simulator.runner import RunResult

_TIMELINE = (
    ("load", "Requests", "requests / s"),
    ("load", "Errors", "errors / s"),
    ("load", "RequestLatencyP99", "p99 latency (ms)"),
    ("db", "DatabaseConnections", "DB connections (all nodes)"),
)


def _series(result: RunResult, source: str, metric: str) -> tuple[list[float], list[float]]:
    """(times from the run's start, values); ``db`` sums over the database nodes."""
    nodes = set(result.peak_db_connections)
    by_time: dict[float, float] = {}
    start = min((s.ts for s in result.samples), default=1.0) - 1.0
    for sample in result.samples:
        if sample.metric != metric:
            continue
        if (source == "db" and sample.source in nodes) or sample.source == source:
            by_time[sample.ts - start] = by_time.get(sample.ts - start, 0.0) + sample.value
    times = sorted(by_time)
    return times, [by_time[t] for t in times]


def write_charts(results: Sequence[RunResult], out: Path, sweep_key: str | None) -> list[Path]:
    """Write ``timeline.png`` (and ``sweep.png`` for a sweep) into ``out``; their paths."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    fig, axes = plt.subplots(len(_TIMELINE), 1, figsize=(9, 10), sharex=True)
    for axis, (source, metric, label) in zip(axes, _TIMELINE, strict=True):
        for result in results:
            times, values = _series(result, source, metric)
            axis.plot(times, values, label=result.name, linewidth=1.2)
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    axes[-1].set_xlabel("simulated seconds")
    fig.suptitle("rdsbox simulator")
    fig.tight_layout()
    path = out / "timeline.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
    if sweep_key is not None:
        written.append(_sweep_chart(results, sweep_key, out, plt))
    return written


def _sweep_chart(results: Sequence[RunResult], key: str, out: Path, plt: Any) -> Path:
    figures: tuple[tuple[str, Callable[[RunResult], float]], ...] = (
        ("throughput", lambda r: r.summary.throughput),
        ("errors", lambda r: r.summary.errors),
        ("p99 latency (ms)", lambda r: r.summary.latency_ms.p99),
        ("cache hit ratio", lambda r: r.summary.cache.hit_ratio),
    )
    fig, axes = plt.subplots(1, len(figures), figsize=(14, 3.5))
    variants: dict[str, list[RunResult]] = {}
    for result in results:
        variants.setdefault(result.name.split(f" {key}=")[0], []).append(result)
    for axis, (label, pick) in zip(axes, figures, strict=True):
        for variant, runs in variants.items():
            xs = [str(r.settings.get(key)) for r in runs]
            axis.plot(xs, [pick(r) for r in runs], marker="o", label=variant)
        axis.set_title(label)
        axis.set_xlabel(key)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path = out / "sweep.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
