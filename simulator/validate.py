"""`rdsbox sim validate`: run a scenario in the running sandbox and in the model, compare.

The sandbox side runs each planned run's phases back to back with
:func:`sandbox.workload.loadgen.run_load` and applies the scenario's faults on a timer
through the control API, each with a write probe on the run's write path
(:mod:`simulator.downtime`). Peak database connections come from the sandbox's metrics
store (the collector's ``DatabaseConnections`` of the database nodes) over the run.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sandbox.client import ControlClient
from sandbox.metrics.store import MetricsStore
from sandbox.scenario.fault_targets import resolve_target
from sandbox.scenario.model import TimedFault
from sandbox.scenario.runner import drop_run_data, run_table
from sandbox.workload.endpoints import Endpoints
from sandbox.workload.loadgen import run_load
from sandbox.workload.spec import LoadSummary
from simulator.compare import Row, compare, downtime_rows, figures
from simulator.downtime import WriteProbe
from simulator.runner import RunResult
from simulator.scenarios import PlannedRun
from simulator.whatif import simulate_each

Progress = Callable[[str], None]


@dataclass
class SandboxRun:
    """What one planned run did in the sandbox."""

    phases: list[LoadSummary]
    downtime_s: list[float | None]
    started: float
    ended: float
    fault_errors: list[str] = field(default_factory=list)


class _FaultTimer:
    """Applies timed faults from a thread, each with a write probe started just before."""

    def __init__(
        self, client: ControlClient, endpoints: Endpoints, faults: list[TimedFault], path: str
    ) -> None:
        self.client, self.endpoints, self.faults = client, endpoints, faults
        self.write_path = endpoints.write_path(path)  # type: ignore[arg-type]
        self.stop = threading.Event()
        self.downtime: list[float | None] = [None] * len(faults)
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.began = time.monotonic()
        self._thread.start()

    def join(self) -> None:
        self.stop.set()
        self._thread.join(180)

    def _run(self) -> None:
        for index, fault in sorted(enumerate(self.faults), key=lambda item: item[1].at):
            # Event.wait: a stop (the load ended early) cancels the remaining faults.
            if self.stop.wait(max(0.0, self.began + fault.at - time.monotonic())):
                return
            probe = WriteProbe(self.endpoints, self.write_path)
            probe.start()
            try:
                options = {k: float(v) for k, v in fault.options.items()}
                # Roles move across failovers: `primary` is whoever holds it now.
                target = resolve_target(fault.target, self.client.status())
                self.client.fault(fault.fault, target, fault.seconds, **options)
            except Exception as exc:  # reported beside the table, the run goes on
                self.errors.append(f"{fault.fault} {fault.target or ''}: {exc}")
            finally:
                probe.fault_done()
            self.downtime[index] = probe.result()


def run_in_sandbox(
    plan: PlannedRun, client: ControlClient, env: Mapping[str, str], progress: Progress | None
) -> SandboxRun:
    """Run ``plan``'s phases and faults against the running sandbox, on a table (and cache
    keys) of its own, so it starts cold like the model."""
    endpoints = Endpoints.from_env(env)
    table = run_table("validate", plan.name)
    if "proxy" in endpoints.db_hosts:
        # The model's proxy starts without server connections; PgBouncer keeps idle ones
        # for a minute after the last run: close them so both sides start cold.
        with contextlib.suppress(Exception):
            client.fault("reset", "proxy")
    timer = _FaultTimer(client, endpoints, plan.faults, plan.phases[0][1].path)
    started = time.time()
    timer.start()
    summaries = []
    try:
        for name, spec in plan.phases:
            if progress is not None:
                progress(f"sandbox: {plan.name}: phase {name} ({spec.duration:g} s)")
            summaries.append(run_load(spec, env, table=table))
    finally:
        timer.join()
        drop_run_data(client.env, table)
    return SandboxRun(summaries, timer.downtime, started, time.time(), timer.errors)


def peak_connections(store: MetricsStore, nodes: list[str], since: float, until: float) -> float:
    """The highest ``DatabaseConnections`` of the database nodes in ``[since, until]``."""
    samples = store.query(since, until + 1.0, metrics=["DatabaseConnections"], sources=nodes)
    return max((s.value for s in samples), default=0.0)


@dataclass
class Validation:
    """Both sides of one planned run and their comparison (``sandbox``: every repeat)."""

    plan: PlannedRun
    sandbox: list[SandboxRun]
    model: RunResult
    rows: list[Row]


def _sandbox_figures(
    measured: SandboxRun, duration: float, store: MetricsStore | None, nodes: list[str]
) -> dict[str, float]:
    result = figures(measured.phases, duration)
    if store is not None and nodes:
        peak = peak_connections(store, nodes, measured.started, measured.ended)
        if peak > 0:
            result["db_connections"] = peak
    return result


def _model_connections(model: RunResult, nodes: list[str]) -> float:
    """Like for like: the highest once-a-second sample, as the sandbox's collector sees it."""
    return max(
        (
            sample.value
            for sample in model.samples
            if sample.metric == "DatabaseConnections" and sample.source in nodes
        ),
        default=0.0,
    )


def validate_run(
    plan: PlannedRun,
    client: ControlClient,
    env: Mapping[str, str],
    store: MetricsStore | None,
    progress: Progress | None = None,
    repeat: int = 1,
) -> Validation:
    """Run ``plan`` in the sandbox (``repeat`` times) and in the model; the rows of
    figures side by side. With repeats, the sandbox's figure is their median and each
    row carries the sandbox's own spread ((max - min) / median): how far the sandbox
    strays from itself, the noise floor any model error has to be read against."""
    measured = [run_in_sandbox(plan, client, env, progress) for _ in range(repeat)]
    if progress is not None:
        progress(f"model: {plan.name}")
    model = next(simulate_each([plan], 0.0))
    duration = sum(spec.duration for _, spec in plan.phases)
    nodes = list(model.peak_db_connections)
    sides = [_sandbox_figures(run, duration, store, nodes) for run in measured]
    shared = set.intersection(*(set(side) for side in sides))
    sandbox_figures = {name: statistics.median([side[name] for side in sides]) for name in shared}
    spread = {
        name: (max(side[name] for side in sides) - min(side[name] for side in sides)) / abs(value)
        for name, value in sandbox_figures.items()
        if repeat > 1 and value
    }
    model_figures = figures(list(model.phases.values()), duration)
    if "db_connections" in sandbox_figures:
        model_figures["db_connections"] = _model_connections(model, nodes)
    rows = compare(plan.name, sandbox_figures, model_figures, spread)
    downtimes: list[float | None] = []
    downtime_spread: list[float | None] = []
    for column in zip(*(run.downtime_s for run in measured), strict=True):
        seen = [d for d in column if d is not None]
        median = statistics.median(seen) if len(seen) == len(column) else None
        downtimes.append(median)
        downtime_spread.append((max(seen) - min(seen)) / median if median and repeat > 1 else None)
    rows += downtime_rows(plan.name, downtimes, model.downtime_s, downtime_spread)
    return Validation(plan, measured, model, rows)
