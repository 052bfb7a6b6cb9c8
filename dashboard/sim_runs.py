"""The Simulator page's model side, free of Streamlit: plan a built-in scenario with the
page's knobs (as `rdsbox sim run` does), run it in-process, reduce each variant to its
summary figures and per-second series, and set a measured scenario report beside it.

The figures carry the names of ``report.json`` (``ops``, ``latency_ms.p99``,
``cache.hit_ratio``...), so simulated and measured runs line up by name.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dashboard import scenario_runs
from sandbox.metrics.schema import LOAD_SOURCE
from sandbox.scenario import tables
from sandbox.scenario.figures import summary_figures
from sandbox.statedir import StateDir

#: Figures of the summary table, with their headings, in column order.
FIGURES = tables.columns(
    "ops",
    "errors",
    "throughput",
    "latency_ms.p50",
    "latency_ms.p99",
    "cache.hit_ratio",
    "downtime_s",
    "db.peak_connections",
)

#: Per-second series of the charts: metric -> (title, unit).
SERIES = {
    "Requests": ("Throughput", "requests per second"),
    "RequestLatencyP99": ("Latency p99", "ms"),
    "Errors": ("Errors", "per second"),
    "CacheHitRatio": ("Cache hit ratio", "%"),
}


@dataclass(frozen=True)
class Knobs:
    """What the page lets one change; ``None`` keeps the scenario's own value."""

    scenario: str
    duration: float
    rate: float | None = None
    clients: int | None = None
    ttl: float | None = None
    max_connections_percent: int | None = None
    instance_class: str | None = None
    profile: str | None = None

    def assignments(self) -> list[tuple[str, Any]]:
        """The ``--set`` overrides these knobs amount to."""
        pairs: list[tuple[str, Any]] = [
            ("load.rate", self.rate),
            ("load.ttl", self.ttl),
            ("proxy.max_connections_percent", self.max_connections_percent),
            ("database.instance_class", self.instance_class),
            ("profile", self.profile),
        ]
        return [(key, value) for key, value in pairs if value is not None]


@dataclass(frozen=True)
class SimRun:
    """One simulated variant, reduced to what the page shows (small and picklable, for
    ``st.cache_data``)."""

    name: str
    variant: str
    figures: dict[str, float | None]
    #: Long form: ``second`` (since the run began), ``metric``, ``value``.
    series: pd.DataFrame
    wall_s: float


def simulate_scenario(knobs: Knobs, cwd: Path, calibration: Path | None) -> list[SimRun]:
    """Every variant of ``knobs.scenario`` with the knobs applied, simulated in this process.

    Raises:
        RdsboxError: an unknown scenario or an invalid knob value (one line).
    """
    from simulator import whatif

    spec = whatif.load(knobs.scenario, cwd)
    planned = whatif.plan(
        spec, cwd, None, knobs.assignments(), None, knobs.clients, knobs.duration, calibration
    )
    epoch = time.time()
    runs = []
    for plan, result in zip(planned, whatif.simulate_each(planned, epoch), strict=True):
        figures: dict[str, float | None] = dict(summary_figures(result.summary))
        downtimes = [d for d in result.downtime_s if d is not None]
        figures["downtime_s"] = max(downtimes) if downtimes else None
        figures["db.peak_connections"] = whatif.peak_db_connections(result)
        rows = [
            (s.ts - epoch, s.metric, s.value)
            for s in result.samples
            if s.source == LOAD_SOURCE and s.metric in SERIES
        ]
        series = pd.DataFrame(rows, columns=["second", "metric", "value"])
        runs.append(SimRun(plan.name, plan.variant, figures, series, result.wall_s))
    return runs


def summary_table(runs: Sequence[SimRun]) -> pd.DataFrame:
    """One row per variant, one column per figure (columns without any value dropped)."""
    columns, body = tables.figure_table(
        [(run.name, run.figures) for run in runs], lambda value: bool(pd.notna(value)), FIGURES
    )
    return pd.DataFrame(
        [cells for _, cells in body],
        index=[label for label, _ in body],
        columns=[head for _, head in columns],
    )


def chart_data(runs: Sequence[SimRun], metric: str) -> pd.DataFrame:
    """``second``, ``line`` (the variant), ``value`` of one metric, for ``line_chart``."""
    parts = [
        run.series[run.series["metric"] == metric].assign(line=run.name)[
            ["second", "line", "value"]
        ]
        for run in runs
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def measured_report(state: StateDir, scenario: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest scenario report of ``scenario`` in the state dir (as the Scenarios
    page lists them), or None."""
    for directory in scenario_runs.reports(state):
        report = scenario_runs.load_report(directory)
        if (report.get("scenario") or {}).get("name") == scenario:
            return directory, report
    return None


def relative_difference(simulated: float | None, measured: float | None) -> float | None:
    """``(simulated - measured) / measured``; None when either is missing or measured is 0."""
    if simulated is None or measured is None or measured == 0:
        return None
    return (simulated - measured) / abs(measured)


def side_by_side(runs: Sequence[SimRun], report: dict[str, Any]) -> pd.DataFrame:
    """Per variant and figure: simulated, measured and their relative difference (for the
    variants and figures both sides have)."""
    measured = {str(v.get("name")): v.get("figures") or {} for v in report.get("variants") or []}
    rows = []
    for run in runs:
        theirs = measured.get(run.variant)
        if theirs is None:
            continue
        for key, head in FIGURES:
            sim, real = run.figures.get(key), theirs.get(key)
            if sim is None or real is None:
                continue
            rows.append(
                {
                    "variant": run.name,
                    "figure": head,
                    "simulated": float(sim),
                    "measured": float(real),
                    "difference": relative_difference(float(sim), float(real)),
                }
            )
    return pd.DataFrame(rows, columns=["variant", "figure", "simulated", "measured", "difference"])
