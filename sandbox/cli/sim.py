"""`rdsbox sim`: the architecture simulator (what-if runs of scenario files).

The model lives in ``simulator/``; this module parses options and prints.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sandbox.cli.app import app, options, print_json

if TYPE_CHECKING:
    from simulator.runner import RunResult

sim_app = typer.Typer(
    help="Simulate the architecture (a discrete-event model): what-if runs at any scale, "
    "from the same configuration and scenario files as the sandbox. No servers needed.",
    no_args_is_help=True,
)
app.add_typer(sim_app, name="sim")


@sim_app.command("run")
def run(
    ctx: typer.Context,
    scenario: Annotated[
        str,
        typer.Argument(
            help="Scenario file, or a built-in name (cache-aside-vs-none, "
            "failover-under-load, connection-storm-at-scale)."
        ),
    ],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override KEY=VALUE: a config key (proxy.max_connections_percent=25, "
            "profile=aws), load.KEY (load.ttl=60), calibration.KEY or sim.seed / "
            "sim.arrivals. Repeatable.",
        ),
    ] = None,
    sweep: Annotated[
        str | None,
        typer.Option("--sweep", help="Run once per value: KEY=v1,v2,... (keys as --set)."),
    ] = None,
    clients: Annotated[
        int | None,
        typer.Option("--clients", min=1, help="N clients with one connection each."),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0.001, help="Total seconds; phases and faults scale to it."),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            help="Calibration file (YAML/JSON); default: the state dir's calibration.yaml "
            "(`rdsbox sim calibrate`) when present, else built-in figures.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory for charts (PNG), result.json and metrics."),
    ] = None,
    cost: Annotated[
        bool, typer.Option("--cost", help="Add a cost estimate (example price table).")
    ] = False,
    prices: Annotated[
        Path | None,
        typer.Option("--prices", help="Your price table (implies --cost)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Simulate a scenario and print a table of the results (one row per run)."""
    from dataclasses import asdict

    from sandbox.cli.render import console
    from simulator import whatif
    from simulator.expectations import check_expectations
    from simulator.scenarios import parse_assignment, parse_sweep

    cwd = Path.cwd()
    spec = whatif.load(scenario, cwd)
    assignments = [parse_assignment(item) for item in set_ or []]
    swept = parse_sweep(sweep) if sweep else None
    planned = whatif.plan(
        spec,
        cwd,
        options(ctx).config,
        assignments,
        swept,
        clients,
        duration,
        calibration or _stored_calibration(ctx),
    )
    estimates = _estimates(planned, prices) if (cost or prices) else None

    def announce(plan: Any) -> None:
        if not as_json:
            sys.stderr.write(f"simulating {plan.name} ...\n")

    results = list(whatif.simulate_each(planned, time.time(), announce))
    written = _write_out(results, out, swept[0] if swept else None, estimates) if out else []
    verdicts = check_expectations(
        spec,
        [
            (r.name, p.variant, r.summary.model_dump())
            for r, p in zip(results, planned, strict=True)
        ],
    )
    if as_json:
        document = _document(spec.name, results, estimates, written)
        document["expectations"] = [{**asdict(v), "ok": v.ok} for v in verdicts]
        print_json(document)
        return
    _table(spec.name, results, estimates)
    for verdict in verdicts:
        bounds = " and ".join(
            f"{word} {limit:g}"
            for word, limit in (("min", verdict.min), ("max", verdict.max))
            if limit is not None
        )
        mark = "[green]ok[/green]" if verdict.ok else "[red]NOT met[/red]"
        console().print(
            f"expect {verdict.metric} ({bounds}) in {verdict.run}: {verdict.value}: {mark}"
        )
    for path in written:
        sys.stdout.write(f"wrote {path}\n")


def _stored_calibration(ctx: typer.Context) -> Path | None:
    """The state dir's calibration file when `rdsbox sim calibrate` wrote one."""
    from simulator.calibration import state_calibration

    path = state_calibration(options(ctx).state())
    return path if path.is_file() else None


def _estimates(planned: list[Any], prices: Path | None) -> list[Any]:
    from simulator.cost import estimate, load_prices

    table = load_prices(prices)
    return [estimate(plan.config, table) for plan in planned]


def _document(
    name: str, results: list[RunResult], estimates: list[Any] | None, written: list[Path]
) -> dict[str, Any]:
    runs = [r.to_json() for r in results]
    for run_doc, estimate in zip(runs, estimates or [], strict=False):
        run_doc["cost"] = estimate.model_dump()
    return {"scenario": name, "runs": runs, "files": [str(p) for p in written]}


def _write_out(
    results: list[RunResult], out: Path, sweep_key: str | None, estimates: list[Any] | None
) -> list[Path]:
    import json

    from sandbox.metrics.store import MetricsStore
    from simulator.charts import write_charts

    written = write_charts(results, out, sweep_key)
    for result in results:
        slug = re.sub(r"[^A-Za-z0-9_.=-]+", "-", result.name).strip("-")
        path = out / f"metrics-{slug}.db"
        path.unlink(missing_ok=True)
        store = MetricsStore(path)
        store.write(result.samples)
        store.close()
        written.append(path)
    document = _document("", results, estimates, [])
    path = out / "result.json"
    path.write_text(json.dumps(document["runs"], indent=2) + "\n")
    written.append(path)
    return written


def _table(name: str, results: list[RunResult], estimates: list[Any] | None) -> None:
    from rich.table import Table

    from sandbox.cli.render import console
    from simulator import whatif

    table = Table(title=f"Simulated: {name}", title_justify="left")
    columns = ["run", "ops", "errors", "ops/s", "p50 ms", "p99 ms", "hit ratio", "peak DB conns"]
    columns += ["downtime s"] if any(r.downtime_s for r in results) else []
    columns += [f"{estimates[0].currency}/month"] if estimates else []
    for column in columns:
        if column == "run":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    for index, result in enumerate(results):
        s = result.summary
        row = [
            result.name,
            str(s.ops),
            str(s.errors),
            f"{s.throughput:,.0f}",
            f"{s.latency_ms.p50:.2f}",
            f"{s.latency_ms.p99:.2f}",
            f"{s.cache.hit_ratio:.1%}",
            str(whatif.peak_db_connections(result)),
        ]
        if any(r.downtime_s for r in results):
            row.append(", ".join("-" if d is None else f"{d:.2f}" for d in result.downtime_s))
        if estimates:
            row.append(f"{estimates[index].monthly:,.0f}")
        table.add_row(*row)
    out = console()
    out.print(table)
    if estimates:
        out.print(f"Prices are examples: {estimates[0].source}.")
