"""PNG charts of a scenario report: one figure per quantity, the variants overlaid, faults
as vertical lines (matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Series = list[tuple[float, float]]

# chart name -> (title, y label, how to get the series of one variant from its report)
_CHARTS: dict[str, tuple[str, str, Callable[[dict[str, Series]], Series]]] = {
    "throughput": (
        "Successful requests per second",
        "requests/s",
        lambda s: _minus(s.get("Requests", []), s.get("Errors", [])),
    ),
    "latency_p50": ("Latency p50", "ms", lambda s: s.get("RequestLatencyP50", [])),
    "latency_p99": ("Latency p99", "ms", lambda s: s.get("RequestLatencyP99", [])),
    "errors": ("Errors per second", "errors/s", lambda s: s.get("Errors", [])),
    "hit_ratio": ("Cache hit ratio", "%", lambda s: s.get("CacheHitRatio", [])),
    "db_connections": (
        "Client connections to the database (all nodes)",
        "connections",
        lambda s: s.get("DatabaseConnections", []),
    ),
    "write_behind_backlog": (
        "Write-behind backlog",
        "queued updates",
        lambda s: s.get("WriteBehindBacklog", []),
    ),
}


def _minus(a: Series, b: Series) -> Series:
    errors = dict(b)
    return [(t, v - errors.get(t, 0.0)) for t, v in a]


def _broken(series: Series, gap: float = 1.6) -> tuple[list[float], list[float]]:
    """The points, with a break (NaN) where a stretch has none (no report came)."""
    xs: list[float] = []
    ys: list[float] = []
    for t, v in series:
        if xs and t - xs[-1] > gap:
            xs.append(xs[-1])
            ys.append(float("nan"))
        xs.append(t)
        ys.append(v)
    return xs, ys


def write_charts(report: dict[str, Any], out: Path) -> list[str]:
    """Write ``out/NAME.png`` for every chart with data; return the names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name, (title, unit, pick) in _CHARTS.items():
        lines = [(v["name"], pick(v["series"])) for v in report["variants"]]
        if not any(series for _, series in lines):
            continue
        fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
        for label, series in lines:
            if series:
                xs, ys = _broken(series)
                ax.plot(xs, ys, label=label, marker=".")
        for variant in report["variants"]:
            for fault in variant["faults"]:
                ax.axvline(fault["load_at"], color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{report['scenario']['name']}: {title}")
        ax.set_xlabel("seconds of load, phases end to end (dotted: faults as they fired)")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / f"{name}.png")
        plt.close(fig)
        written.append(name)
    return written
