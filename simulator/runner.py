"""One simulated run: build the model, drive it through the phases and faults, report."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from sandbox.config import SandboxConfig
from sandbox.errors import ConfigError
from sandbox.metrics.schema import Sample
from sandbox.scenario.model import TimedFault
from sandbox.workload.spec import LoadSpec, LoadSummary
from simulator.arrivals import OpenLoop
from simulator.calibration import Calibration
from simulator.clients import Application
from simulator.engine import Engine
from simulator.failures import Failures
from simulator.gauges import Gauges
from simulator.metrics import Outcomes, Recorder, gauge_samples
from simulator.phases import PhaseRuntime
from simulator.random_streams import Randomness
from simulator.strategies import Strategies
from simulator.world import World


@dataclass
class RunResult:
    """What one run (one variant of a scenario) produced."""

    name: str
    summary: LoadSummary
    phases: dict[str, LoadSummary]
    samples: list[Sample]
    downtime_s: list[float | None]
    peak_db_connections: dict[str, int]
    pool_size: int | None
    proxy_stats: dict[str, float]
    wall_s: float
    outcomes: Outcomes = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        """Simulated requests (finished or failed)."""
        return len(self.outcomes.t0)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document (samples left out; they go to a MetricsStore)."""
        return {
            "name": self.name,
            "settings": self.settings,
            "summary": self.summary.model_dump(),
            "phases": {name: s.model_dump() for name, s in self.phases.items()},
            "downtime_s": self.downtime_s,
            "peak_db_connections": self.peak_db_connections,
            "pool_size": self.pool_size,
            "proxy": self.proxy_stats,
            "requests": self.requests,
            "wall_s": round(self.wall_s, 4),
        }


def simulate(
    config: SandboxConfig,
    phases: Sequence[tuple[str, LoadSpec]],
    faults: Sequence[TimedFault] = (),
    calibration: Calibration | None = None,
    seed: int | None = None,
    poisson: bool = True,
    epoch: float = 0.0,
    name: str = "run",
) -> RunResult:
    """Simulate ``phases`` back to back on the architecture of ``config``.

    ``seed`` defaults to the first phase's ``LoadSpec.seed``; ``poisson`` picks Poisson
    open-loop arrivals (else evenly spaced at ``1 / rate``); ``epoch`` is the timestamp
    of simulated time 0 in the samples.

    Raises:
        ConfigError: phases mixing open and closed loop, or a bad fault.
    """
    return Model(config, phases, calibration, seed).run(faults, poisson, epoch, name)


class Model:
    """The assembled model of one run; ``run()`` drives it (once)."""

    def __init__(
        self,
        config: SandboxConfig,
        phases: Sequence[tuple[str, LoadSpec]],
        calibration: Calibration | None = None,
        seed: int | None = None,
    ) -> None:
        if not phases:
            raise ConfigError("simulate: a run needs at least one phase")
        modes = {spec.mode for _, spec in phases}
        if len(modes) > 1:
            raise ConfigError("phases: all phases of a run must use the same load.mode")
        self.began = time.perf_counter()
        calibration = calibration or Calibration()
        rng = Randomness(phases[0][1].seed if seed is None else seed)
        self.engine = engine = Engine()
        self.world = world = World(config, calibration, engine, rng)
        self.recorder = Recorder()
        self.app = app = Application(world, self.recorder)
        self.strategies = Strategies(app, world)
        self.failures = Failures(world, app)
        app.closed_loop = modes == {"closed"}
        self.phases: list[PhaseRuntime] = []
        start = 0.0
        for index, (phase_name, spec) in enumerate(phases):
            self.phases.append(
                PhaseRuntime(index, phase_name, spec, start, rng, world.start_delays)
            )
            start += spec.duration
        for earlier, later in pairwise(self.phases):
            earlier.following = later
        self.end = start

    def run(
        self,
        faults: Sequence[TimedFault] = (),
        poisson: bool = True,
        epoch: float = 0.0,
        name: str = "run",
    ) -> RunResult:
        """Run every phase (with ``faults``) and report (see :func:`simulate`)."""
        engine, world, app, end = self.engine, self.world, self.app, self.end
        for phase in self.phases:
            engine.at(phase.start, _phase_starts(app), phase)
        for fault in faults:
            self.failures.schedule(fault, 0.0)
        if any(phase.strategy == "write-behind" for phase in self.phases):
            self.strategies.start_flusher(end)
        Gauges(world, app, self.strategies, self.recorder).start(float(np.ceil(end)))
        feed = None if app.closed_loop else OpenLoop(app, self.phases[0], poisson)
        engine.run(end + max(phase.timeout for phase in self.phases) + 1.0, feed)

        outcomes = self.recorder.outcomes()
        summaries = {
            phase.name: outcomes.summary(outcomes.phase == phase.index, phase.spec.duration)
            for phase in self.phases
        }
        samples = outcomes.load_samples(epoch, int(np.ceil(end)), world.cache_nodes[0])
        samples += gauge_samples(self.recorder.gauges, epoch)
        pool = world.proxy
        proxy_stats: dict[str, float] = {}
        if pool is not None:
            borrows = max(1, pool.borrow_count)
            proxy_stats = {
                "borrows": pool.borrow_count,
                "waited_share": pool.borrow_waits / borrows,
                "mean_borrow_wait_s": pool.borrow_sum / borrows,
            }
        return RunResult(
            name=name,
            summary=outcomes.summary(None, end),
            phases=summaries,
            samples=samples,
            downtime_s=[outcomes.recovery_after(fault.at) for fault in faults],
            peak_db_connections={node.name: node.peak_conns for node in world.nodes},
            pool_size=pool.slots.capacity if pool is not None else None,
            proxy_stats=proxy_stats,
            wall_s=time.perf_counter() - self.began,
            outcomes=outcomes,
        )


def _phase_starts(app: Application) -> Any:
    def starts(phase: PhaseRuntime) -> None:
        app.phase = phase
        app.slots.capacity = phase.slots
        app.slots.serve()
        if app.closed_loop and phase.index == 0:
            for _ in range(phase.slots):
                app.arrive(phase)

    return starts
