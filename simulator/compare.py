"""Sandbox and model side by side: the figures of a run, their relative errors and targets.

Both sides are reduced the same way (:func:`figures`), from their per-phase
``LoadSummary``s: throughput is successful requests per second of load, the hit ratio
comes from the summed hits and misses, the mean latency is weighted by requests, and the
p99 is the worst phase's p99 (phases of one run are separate load runs in the sandbox, so
their latencies cannot be merged exactly).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sandbox.workload.spec import LoadSummary

TARGETS: dict[str, float] = {
    "throughput": 0.10,
    "hit_ratio": 0.10,
    "mean_ms": 0.10,
    "p99_ms": 0.10,
    "db_connections": 0.10,
    "downtime_s": 0.20,
}
"""Largest relative error allowed per figure (issue 6: 10%, 20% for failover downtime)."""


@dataclass(frozen=True)
class Row:
    """One figure of one run, measured and simulated."""

    run: str
    figure: str
    sandbox: float
    model: float
    error: float
    target: float
    spread: float | None = None
    """The sandbox's own spread over repeated runs ((max - min) / median), when repeated."""

    @property
    def ok(self) -> bool:
        """Whether the relative error is within the target."""
        return self.error <= self.target

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (an infinite error becomes ``null``)."""
        data = asdict(self)
        data["error"] = None if math.isinf(self.error) else round(self.error, 4)
        data["spread"] = None if self.spread is None else round(self.spread, 4)
        data["ok"] = self.ok
        return data


def relative_error(sandbox: float, model: float) -> float:
    """``|model - sandbox| / |sandbox|`` (the sandbox is the reference); 0 when both are 0,
    infinite when only the sandbox's is."""
    if sandbox == 0:
        return 0.0 if model == 0 else math.inf
    return abs(model - sandbox) / abs(sandbox)


def figures(phases: Sequence[LoadSummary], duration_s: float) -> dict[str, float]:
    """The compared figures of one run's phases (``duration_s``: seconds of load)."""
    ops = sum(p.ops for p in phases)
    requests = sum(p.ops + p.errors for p in phases)
    hits = sum(p.cache.hits for p in phases)
    lookups = hits + sum(p.cache.misses for p in phases)
    result = {
        "throughput": ops / duration_s if duration_s > 0 else 0.0,
        "mean_ms": (
            sum(p.latency_ms.mean * (p.ops + p.errors) for p in phases) / requests
            if requests
            else 0.0
        ),
        "p99_ms": max((p.latency_ms.p99 for p in phases), default=0.0),
    }
    if lookups:
        result["hit_ratio"] = hits / lookups
    return result


def compare(
    run: str,
    sandbox: dict[str, float],
    model: dict[str, float],
    spread: dict[str, float] | None = None,
) -> list[Row]:
    """A row per figure present on both sides, in :data:`TARGETS` order (``spread``: the
    sandbox's own, per figure, when it ran more than once)."""
    return [
        Row(
            run,
            name,
            sandbox[name],
            model[name],
            relative_error(sandbox[name], model[name]),
            target,
            (spread or {}).get(name),
        )
        for name, target in TARGETS.items()
        if name in sandbox and name in model
    ]


def downtime_rows(
    run: str,
    sandbox: Sequence[float | None],
    model: Sequence[float | None],
    spread: Sequence[float | None] = (),
) -> list[Row]:
    """One row per fault whose downtime both sides measured (``spread``: the sandbox's
    own per fault, when it ran more than once)."""
    rows = []
    for index, (measured, simulated) in enumerate(zip(sandbox, model, strict=False)):
        if measured is None or simulated is None:
            continue
        name = "downtime_s" if len(sandbox) == 1 else f"downtime_s[{index}]"
        rows.append(
            Row(
                run,
                name,
                measured,
                simulated,
                relative_error(measured, simulated),
                TARGETS["downtime_s"],
                spread[index] if index < len(spread) else None,
            )
        )
    return rows
