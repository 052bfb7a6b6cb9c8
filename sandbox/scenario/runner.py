"""``rdsbox scenario run``: each variant on a sandbox of its configuration, its phases
driven by the load generator while a timer applies the faults; figures, expectations,
report and charts.

Variants whose configurations match run one after the other on the same sandbox (after it
is healthy again); every variant gets its own ``users`` table and cache keys, so a warm
cache or a queue left by one variant never helps or hurts the next.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.errors import RdsboxError
from sandbox.metrics.schema import LOAD_SOURCE
from sandbox.metrics.store import MetricsStore
from sandbox.scenario.dbprobe import DbProbe, counter_deltas
from sandbox.scenario.figures import PhaseResult
from sandbox.scenario.model import Phase, Scenario, Variant
from sandbox.scenario.sandboxes import RunSandbox, same_topology, variant_config
from sandbox.scenario.timer import FaultTimer
from sandbox.statedir import StateDir
from sandbox.workload.endpoints import Endpoints
from sandbox.workload.loadgen import run_load

Progress = Callable[[str], None]


@dataclass
class RunOptions:
    """How to run a scenario."""

    base_config: SandboxConfig
    first_port: int
    running: StateDir | None = None
    progress: Progress = field(default=lambda line: None)


@dataclass
class VariantRun:
    """What one variant produced (the report is built from these)."""

    variant: Variant
    config: SandboxConfig
    sandbox: dict[str, Any]
    started_at: float = 0.0
    ended_at: float = 0.0
    phases: list[PhaseResult] = field(default_factory=list)
    phase_starts: list[float] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    error: str | None = None


def run_scenario(scenario: Scenario, opts: RunOptions) -> list[VariantRun]:
    """Run every variant of ``scenario``; sandboxes it started are stopped at the end."""
    runs: list[VariantRun] = []
    running = RunSandbox.attach(opts.running) if opts.running is not None else None
    current: RunSandbox | None = None
    try:
        for variant in scenario.variants:
            config = variant_config(opts.base_config, scenario.config, variant.config)
            if running is not None and same_topology(running.config, config):
                box = running
            elif current is not None and same_topology(current.config, config):
                box = current
            else:
                if current is not None:
                    current.close()
                    current = None
                current = box = RunSandbox.start(config, opts.first_port, opts.progress)
            opts.progress(f"variant {variant.name}: sandbox {box.state.root}")
            runs.append(_run_variant(scenario, variant, box, opts.progress))
    finally:
        if current is not None:
            current.close()
    return runs


def _run_variant(
    scenario: Scenario, variant: Variant, box: RunSandbox, progress: Progress
) -> VariantRun:
    run = VariantRun(
        variant,
        box.config,
        {"state_dir": str(box.state.root), "started_for_run": box.owned},
    )
    box.wait_healthy()
    client = box.client
    table = run_table(scenario.name, variant.name)
    store = MetricsStore(box.state.metrics_file)
    probe = DbProbe(client.status, client.env)
    timer = FaultTimer(client, scenario.faults, scenario.phases, progress)
    probe.connections()  # connect before the load takes the slots
    probe.start_sampling()
    run.started_at = time.time()
    timer.start()
    try:
        for index, phase in enumerate(scenario.phases):
            try:
                line = _prefixed(progress, f"{variant.name}/{phase.name} ")

                def began(index: int = index) -> float:
                    # run_load reads its clock once, when its workers start the load.
                    timer.phase_started(index)
                    return time.time()

                result = _run_phase(scenario, phase, variant, box, probe, store, table, line, began)
                run.phases.append(result)
                run.phase_starts.append(result.summary.started_at)
            except RdsboxError as exc:
                run.error = f"phase {phase.name}: {exc}"
                progress(f"variant {variant.name}: {run.error}")
                break
    finally:
        timer.stop()
        run.ended_at = time.time()
        probe.close()
        windows = [
            (p.summary.started_at, p.summary.started_at + p.summary.duration_s) for p in run.phases
        ]
        run.faults = [
            {**f, "load_at": round(load_time(f["fired_ts"], windows), 3)} for f in timer.timeline
        ]
        run.series = _series(store, run.started_at, run.ended_at, run.phases, probe.series)
        store.close()
        drop_run_data(client.env, table)
        if scenario.faults:
            with contextlib.suppress(RdsboxError):
                client.fault("clear")
    return run


def _run_phase(
    scenario: Scenario,
    phase: Phase,
    variant: Variant,
    box: RunSandbox,
    probe: DbProbe,
    store: MetricsStore,
    table: str,
    progress: Progress,
    clock: Callable[[], float],
) -> PhaseResult:
    spec = scenario.phase_spec(phase, variant)
    before = probe.counters()
    probe.reset_peak()
    env = box.client.env()
    summary = run_load(spec, env, clock=clock, store=store, progress=progress, table=table)
    db: dict[str, float | None] = dict(counter_deltas(before, probe.counters()))
    db["db.peak_connections"] = float(probe.reset_peak())
    backlog = store.query(
        since=summary.started_at,
        until=summary.started_at + summary.duration_s + 1.5,
        metrics=["WriteBehindBacklog"],
        sources=[LOAD_SOURCE],
    )
    db["writebehind.peak_backlog"] = max((s.value for s in backlog), default=None)
    return PhaseResult(phase.name, spec, summary, db)


def load_time(ts: float, windows: list[tuple[float, float]]) -> float:
    """Clock time -> seconds of load, the phases laid end to end (the axis of the faults'
    ``at`` and of downtime); a time between two phases maps to the next one's start."""
    offset = 0.0
    for start, end in windows:
        if ts < start:
            return offset
        if ts <= end + 0.25:
            return offset + min(ts, end) - start
        offset += end - start
    return offset


def _series(
    store: MetricsStore,
    since: float,
    until: float,
    phases: list[PhaseResult],
    connections: list[tuple[float, int]],
) -> dict[str, list[tuple[float, float]]]:
    """The load's per-second series (and the sampled database connections) of a variant,
    in seconds of load. A phase's last report holds only the stragglers answered after its
    end; it is left out, so the charts show no drop that did not happen."""
    windows = [(p.summary.started_at, p.summary.started_at + p.summary.duration_s) for p in phases]

    def inside(ts: float) -> bool:
        return any(start < ts <= end + 0.25 for start, end in windows)

    series: dict[str, list[tuple[float, float]]] = {}
    for sample in store.query(since=since, until=until + 1.5, sources=[LOAD_SOURCE]):
        if inside(sample.ts):
            point = (round(load_time(sample.ts, windows), 3), sample.value)
            series.setdefault(sample.metric, []).append(point)
    series["DatabaseConnections"] = [
        (round(load_time(ts, windows), 3), float(v)) for ts, v in connections if inside(ts)
    ]
    return series


def run_table(scenario: str, variant: str) -> str:
    """A fresh table name for one run of a scenario's variant: its rows and cache keys
    start cold and never mix with another run's."""
    return f"scn_{_slug(scenario)}_{_slug(variant)}_{uuid.uuid4().hex[:6]}"


def drop_run_data(env: Callable[[], dict[str, str]], table: str) -> None:
    """Drop the variant's table and cache keys (best effort: a fault may have left the
    sandbox without a writer for a moment)."""
    with contextlib.suppress(Exception):
        endpoints = Endpoints.from_env(env())
        with endpoints.connect_db("writer", 5.0) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}".encode())
        cache = endpoints.connect_cache(5.0)
        try:
            keys = list(cache.scan_iter(match=f"*{table}*", count=1000))
            if keys:
                cache.delete(*keys)
        finally:
            cache.close()


def _prefixed(progress: Progress, prefix: str) -> Progress:
    return lambda line: progress(prefix + line)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:20] or "x"
