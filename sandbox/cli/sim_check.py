"""`rdsbox sim calibrate` and `rdsbox sim validate`: the model against the running sandbox.

Logic lives in ``simulator/calibrate.py``, ``simulator/validate.py`` and
``simulator/compare.py``; this module parses options and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sandbox.cli.app import options, print_json
from sandbox.cli.sim import sim_app
from sandbox.errors import ConfigError, RdsboxError

if TYPE_CHECKING:
    from sandbox.client import ControlClient
    from sandbox.config import SandboxConfig
    from sandbox.statedir import StateDir
    from simulator.compare import Row

_FAILOVER_FAULTS = ("db-failover", "kill")
SHORT_S = 6.0
"""Seconds of load per variant with ``validate --short``."""


class SandboxIoError(RdsboxError):
    """The sandbox's database or cache did not answer a measurement."""


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _running_config(state: StateDir) -> SandboxConfig:
    """The configuration the running sandbox was started with."""
    from sandbox.config import SandboxConfig

    return SandboxConfig.model_validate_json(state.config_file.read_text())


def _fail_over(client: ControlClient, fault: str) -> object:
    """Fail the database over: planned (db-failover) or by killing the primary."""
    if fault == "kill":
        from sandbox.scenario.fault_targets import resolve_target

        return client.fault("kill", resolve_target("primary", client.status()))
    return client.fault("db-failover")


@sim_app.command("calibrate")
def calibrate(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Calibration file to write (default: STATE_DIR/calibration.yaml)."
        ),
    ] = None,
    failover: Annotated[
        bool,
        typer.Option("--failover", help="Also time one failover (writes pause for seconds)."),
    ] = False,
    failover_fault: Annotated[
        str,
        typer.Option(
            "--failover-fault",
            help="How --failover fails over: db-failover (planned) or kill (the primary "
            "crashes, as in the built-in failover scenarios).",
        ),
    ] = "db-failover",
    samples: Annotated[
        int, typer.Option("--samples", min=10, help="Round trips per figure.")
    ] = 200,
    load_rate: Annotated[
        float,
        typer.Option(
            "--load-rate",
            min=0,
            help="Reads/s of the short load run that measures the client side under load "
            "(start delay, round-trip spread); 0 skips it.",
        ),
    ] = 500.0,
    load_seconds: Annotated[
        float, typer.Option("--load-seconds", min=1, help="Seconds of that load run.")
    ] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Measure service times, connection set-up, the client side under load and
    (--failover) failover timings in the running sandbox and store them as the
    simulator's calibration file; `rdsbox sim run` and `rdsbox sim validate` then use
    it."""
    import psycopg
    import redis

    from sandbox.client import ControlClient
    from sandbox.workload.endpoints import Endpoints
    from simulator.calibrate import (
        calibration_from,
        measure,
        measure_client,
        measure_failover,
        write_calibration,
    )
    from simulator.calibration import state_calibration

    if failover_fault not in _FAILOVER_FAULTS:
        raise ConfigError(
            f"--failover-fault: {failover_fault!r} is not allowed; use one of "
            + ", ".join(_FAILOVER_FAULTS)
        )
    state = options(ctx).state()
    client = ControlClient(state)
    endpoints = Endpoints.from_env(client.env())
    say = None if as_json else _stderr
    try:
        figures = measure(endpoints, samples, say)
        client_side: dict[str, dict[float, float]] = {}
        if load_rate > 0:
            if say:
                say(f"client under load ({load_rate:g} reads/s for {load_seconds:g} s)")
            client_side = measure_client(client.env(), load_rate, load_seconds, figures)
        downtime: dict[str, float | None] = {}
        if failover:
            if say:
                say(f"{failover_fault}, timing the first commit through each endpoint")
            downtime = measure_failover(endpoints, lambda: _fail_over(client, failover_fault))
    except (psycopg.Error, redis.RedisError) as exc:
        raise SandboxIoError(
            f"calibrate: the sandbox in {state.root} did not answer ({exc})".splitlines()[0]
            + "; check `rdsbox status`"
        ) from exc
    timing = _running_config(state).timing_profile() if downtime else None
    calibration = calibration_from(
        figures, downtime, timing, client=client_side, crash=failover_fault == "kill"
    )
    path = out or state_calibration(state)
    write_calibration(calibration, path)
    if as_json:
        print_json(
            {
                "file": str(path),
                "measured_ms": {k: round(v, 4) for k, v in figures.items()},
                "failover_downtime_s": downtime,
                "calibration": calibration.model_dump(),
            }
        )
        return
    for key, value in calibration.model_dump(exclude_defaults=True).items():
        shown = value
        if isinstance(value, dict):  # a distribution: its main percentiles
            shown = ", ".join(f"p{p:g} {value[p]:g}" for p in (50, 95, 99, 100) if p in value)
        sys.stdout.write(f"{key}: {shown}\n")
    for key, seconds in downtime.items():
        shown = "no commit within the limit" if seconds is None else f"{seconds:.2f} s"
        sys.stdout.write(f"failover downtime via {key}: {shown}\n")
    sys.stdout.write(f"wrote {path}\n")


@sim_app.command("validate")
def validate(
    ctx: typer.Context,
    scenario: Annotated[str, typer.Argument(help="Scenario file or built-in name.")],
    short: Annotated[
        bool, typer.Option("--short", help=f"{SHORT_S:g} s of load per variant.")
    ] = False,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0.5, help="Seconds of load per variant (phases scale)."),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option("--calibration", help="Calibration file (default: the state dir's)."),
    ] = None,
    repeat: Annotated[
        int,
        typer.Option(
            "--repeat",
            min=1,
            max=20,
            help="Run the sandbox side N times: its figures are the medians, and a "
            "'spread' column shows how far the sandbox strays from itself.",
        ),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Run SCENARIO in the running sandbox and in the model (same configuration, phases
    and faults) and print them side by side with the relative error of each figure.

    Targets: 10% (throughput, hit ratio, mean and p99 latency, database connections),
    20% (failover downtime). Exit status 0 when all are met, 1 otherwise."""
    from sandbox.client import ControlClient
    from sandbox.metrics.store import MetricsStore
    from simulator.calibration import load_calibration, state_calibration
    from simulator.scenarios import find_scenario, load_scenario, plan_runs
    from simulator.validate import validate_run

    spec = load_scenario(find_scenario(scenario, Path.cwd()))  # bad input: exit 2 first
    state = options(ctx).state()
    client = ControlClient(state)
    env = client.env()
    if spec.config or any(v.config for v in spec.variants):
        _stderr(
            "rdsbox: warning: the scenario's `config` is not applied: both sides use the "
            "running sandbox's configuration"
        )
        spec = spec.model_copy(
            update={
                "config": {},
                "variants": tuple(v.model_copy(update={"config": {}}) for v in spec.variants),
            }
        )
    stored = state_calibration(state)
    chosen = calibration or (stored if stored.is_file() else None)
    seconds = duration if duration is not None else (min(SHORT_S, spec.duration) if short else None)
    planned = plan_runs(
        spec,
        _running_config(state).model_dump(mode="json"),
        duration=seconds,
        calibration=load_calibration(chosen),
    )
    store = MetricsStore(state.metrics_file) if state.metrics_file.is_file() else None
    try:
        results = [
            validate_run(plan, client, env, store, None if as_json else _stderr, repeat)
            for plan in planned
        ]
    finally:
        if store is not None:
            store.close()
    rows = [row for result in results for row in result.rows]
    ok = bool(rows) and all(row.ok for row in rows)
    notes = [
        f"{r.plan.name}: fault failed: {e}"
        for r in results
        for run in r.sandbox
        for e in run.fault_errors
    ]
    if as_json:
        print_json(
            {
                "scenario": spec.name,
                "calibration": str(chosen) if chosen else "defaults",
                "rows": [row.to_json() for row in rows],
                "ok": ok,
                "notes": notes,
            }
        )
    else:
        _table(spec.name, rows, str(chosen) if chosen else "built-in defaults")
        for note in notes:
            _stderr(note)
    raise typer.Exit(0 if ok else 1)


def _format(figure: str, value: float) -> str:
    if figure == "hit_ratio":
        return f"{value:.1%}"
    if figure in {"throughput", "db_connections"}:
        return f"{value:,.1f}"
    return f"{value:.2f}"


def _table(name: str, rows: list[Row], calibration: str) -> None:
    from rich.table import Table

    from sandbox.cli.render import console

    table = Table(title=f"Validated: {name} (calibration: {calibration})", title_justify="left")
    columns = ["run", "figure", "sandbox", "model", "error", "target", ""]
    repeated = any(row.spread is not None for row in rows)
    if repeated:
        columns.insert(5, "sandbox spread")
    for column in columns:
        table.add_column(column, justify="left" if column in ("run", "figure") else "right")
    for row in rows:
        cells: list[Any] = [
            row.run,
            row.figure,
            _format(row.figure, row.sandbox),
            _format(row.figure, row.model),
            "inf" if row.error == float("inf") else f"{row.error:.1%}",
            f"{row.target:.0%}",
            "[green]ok[/green]" if row.ok else "[red]off[/red]",
        ]
        if repeated:
            cells.insert(5, "" if row.spread is None else f"{row.spread:.1%}")
        table.add_row(*cells)
    console().print(table)
