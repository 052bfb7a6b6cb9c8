"""`rdsbox scenario list|run`: built-in and user scenario files (load phases, timed faults,
expectations) run on sandboxes of their own configuration, with a report and charts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from sandbox.cli.app import app, options, print_json
from sandbox.errors import ConfigError

scenario_app = typer.Typer(
    help="Run scenarios: load phases with timed faults, compared across variants.",
    no_args_is_help=True,
)
app.add_typer(scenario_app, name="scenario")


def _stderr(line: str) -> None:
    sys.stderr.write(f"rdsbox: {line}\n")
    sys.stderr.flush()


@scenario_app.command("list")
def list_scenarios(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the built-in scenarios with a one-line description."""
    from sandbox.scenario.builtins import builtin_scenarios, read_scenario

    rows: list[dict[str, Any]] = []
    for name, path in builtin_scenarios().items():
        scenario = read_scenario(path)
        rows.append(
            {
                "name": name,
                "description": scenario.description.strip().splitlines()[0]
                if scenario.description.strip()
                else "",
                "variants": [v.name for v in scenario.variants],
                "duration_s": scenario.duration,
                "file": str(path),
            }
        )
    if as_json:
        print_json(rows)
        return
    width = max((len(r["name"]) for r in rows), default=0)
    for row in rows:
        sys.stdout.write(f"{row['name']:<{width}}  {row['description']}\n")


@scenario_app.command("run")
def run(
    ctx: typer.Context,
    scenario: Annotated[str, typer.Argument(help="A built-in's name or a scenario file.")],
    out: Annotated[
        Path, typer.Option("--out", help="Directory for report.json, report.md and charts.")
    ],
    short: Annotated[
        bool,
        typer.Option("--short", help="A few seconds per phase (CI, demos); skips slow variants."),
    ] = False,
    use_running: Annotated[
        bool,
        typer.Option(
            "--use-running",
            help="Run the variants whose configuration matches the running sandbox "
            "(--state-dir) on it; the others still get their own.",
        ),
    ] = False,
    charts: Annotated[
        bool, typer.Option("--charts/--no-charts", help="Write the PNG charts.")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome as JSON (progress on stderr).")
    ] = False,
) -> None:
    """Run a scenario: each variant on a sandbox started with the scenario's configuration
    (temporary state dir, free ports from --port-base or 26000), phases of load while the
    faults fire, then report.json, report.md and PNG charts in --out.

    Exit status 0 when every expectation holds, 1 when one does not, 2 on bad input."""
    from sandbox.config import load_config
    from sandbox.scenario.builtins import find_scenario
    from sandbox.scenario.charts import write_charts
    from sandbox.scenario.report import (
        build_report,
        environment,
        write_json,
        write_markdown,
    )
    from sandbox.scenario.runner import RunOptions, run_scenario
    from sandbox.scenario.sandboxes import DEFAULT_FIRST_PORT
    from sandbox.scenario.shorten import shorten

    opts = options(ctx)
    loaded, path = find_scenario(scenario)
    chosen = shorten(loaded) if short else loaded
    skipped = [v.name for v in loaded.variants if v not in chosen.variants]
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory; name a directory")
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    run_opts = RunOptions(
        base_config=load_config(opts.config, Path.cwd()),
        first_port=opts.port_base or DEFAULT_FIRST_PORT,
        running=opts.state() if use_running else None,
        progress=_stderr,
    )
    _stderr(
        f"scenario {loaded.name}: {len(chosen.variants)} variant(s) x {chosen.duration:g} s"
        + (f" (short; skipped: {', '.join(skipped)})" if skipped else "")
    )
    runs = run_scenario(chosen, run_opts)
    report = build_report(chosen, str(path), short, runs, skipped, env)
    report["charts"] = write_charts(report, out) if charts else []
    write_json(report, out)
    write_markdown(report, out)
    if as_json:
        print_json(_outcome(report, out))
    else:
        _print_outcome(report, out)
    raise typer.Exit(0 if report["passed"] else 1)


def _outcome(report: dict[str, Any], out: Path) -> dict[str, Any]:
    return {
        "scenario": report["scenario"]["name"],
        "passed": report["passed"],
        "out": str(out),
        "variants": {v["name"]: v["figures"] for v in report["variants"]},
        "expectations": report["expectations"],
        "errors": {v["name"]: v["error"] for v in report["variants"] if v["error"]},
    }


def _print_outcome(report: dict[str, Any], out: Path) -> None:
    lines = []
    for v in report["variants"]:
        f = v["figures"]
        line = (
            f"{v['name']:<14} ops {f['ops']:g}  errors {f['errors']:g}  "
            f"{f['throughput']:.1f}/s  p99 {f['latency_ms.p99']:.1f} ms"
        )
        if v["faults"] and f.get("downtime_s") is not None:
            line += f"  downtime {f['downtime_s']:.2f} s"
        if v["error"]:
            line += f"  STOPPED: {v['error']}"
        lines.append(line)
    for e in report["expectations"]:
        mark = {True: "PASS", False: "FAIL", None: "SKIP"}[e["passed"]]
        value = "-" if e["value"] is None else f"{e['value']:.4g}"
        where = e["variant"] + (f"/{e['phase']}" if e["phase"] else "")
        lines.append(f"{mark} {e['metric']} ({where}) = {value} {e['reason']}".rstrip())
    lines.append(f"report: {out / 'report.md'}")
    sys.stdout.write("\n".join(lines) + "\n")
