"""What-if runs of a scenario: plan its variants with overrides, simulate each in-process.

One implementation behind `rdsbox sim run` and the dashboard's Simulator page, so both
read a scenario, apply ``--set`` / ``--sweep`` / ``--clients`` / ``--duration`` and drive
the model alike (see :mod:`simulator.scenarios` for the precedence of overrides).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.scenario.model import Scenario
    from simulator.runner import RunResult
    from simulator.scenarios import PlannedRun


def load(scenario: str, cwd: Path) -> Scenario:
    """A scenario file (relative to ``cwd``) or a built-in scenario, read and validated.

    Raises:
        ConfigError: neither a file nor a built-in name, or an invalid file (one line).
    """
    from simulator.scenarios import find_scenario, load_scenario

    return load_scenario(find_scenario(scenario, cwd))


def plan(
    spec: Scenario,
    cwd: Path,
    config: Path | None,
    assignments: Sequence[tuple[str, Any]] = (),
    sweep: tuple[str, list[Any]] | None = None,
    clients: int | None = None,
    duration: float | None = None,
    calibration: Path | None = None,
) -> list[PlannedRun]:
    """One planned run per variant (and sweep value) of ``spec``, every override applied.

    ``config`` is the configuration file (None: ``rdsbox.yaml`` in ``cwd`` when present);
    ``calibration`` a calibration file (None: the built-in figures).

    Raises:
        ConfigError: an invalid configuration, calibration, key or value (one line).
    """
    from simulator.calibration import load_calibration
    from simulator.scenarios import plan_runs, raw_config

    return plan_runs(
        spec,
        raw_config(config, cwd),
        assignments,
        sweep,
        clients,
        duration,
        load_calibration(calibration),
    )


def simulate_each(
    planned: Sequence[PlannedRun],
    epoch: float,
    progress: Callable[[PlannedRun], None] | None = None,
) -> Iterator[RunResult]:
    """Simulate the planned runs in turn (samples stamped from ``epoch``), yielding each
    result as it is done (a caller that reduces them need not hold them all); each result
    carries its run's settings. ``progress`` is called before each run."""
    from simulator.runner import simulate

    for item in planned:
        if progress is not None:
            progress(item)
        result = simulate(
            item.config,
            item.phases,
            item.faults,
            item.calibration,
            item.seed,
            item.poisson,
            epoch,
            item.name,
        )
        result.settings = item.settings
        yield result


def peak_db_connections(result: RunResult) -> int:
    """The highest number of database connections of any node in the run (0: none)."""
    return max(result.peak_db_connections.values(), default=0)
