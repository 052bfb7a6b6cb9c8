"""The scenario report: ``report.json`` (the document below) and ``report.md`` (tables).

``report.json``::

    {"scenario": {name, description, file, short},
     "environment": {cpus, platform, python, rdsbox, loadavg, started},
     "variants": [{name, description, baseline, profile, config, sandbox, error,
                   "phases": [{name, start_s, spec, summary, db, figures}],
                   "figures": {...whole run...}, "comparison": {...vs baseline...},
                   "faults": [{at, load_at, fired_at, fault, target, resolved, ok, result}],
                   "series": {metric: [[seconds of load, value], ...]}}],
     "skipped_variants": [...],
     "expectations": [{metric, variant, phase, min, max, value, passed, reason}],
     "passed": true}
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sandbox.scenario.figures import Figures, compare, evaluate, phase_figures, total_figures
from sandbox.scenario.model import Scenario
from sandbox.scenario.runner import VariantRun
from sandbox.scenario.tables import figure_table


def environment() -> dict[str, Any]:
    """Facts about where the run happened (a shared machine's load average matters)."""
    try:
        rdsbox = version("rdsbox")
    except PackageNotFoundError:
        rdsbox = "unknown"
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "rdsbox": rdsbox,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def build_report(
    scenario: Scenario,
    source: str,
    short: bool,
    runs: Sequence[VariantRun],
    skipped: Sequence[str],
    env: dict[str, Any],
) -> dict[str, Any]:
    """The report document (see the module docstring)."""
    totals = {run.variant.name: total_figures(run.phases) for run in runs}
    per_phase = {run.variant.name: {p.name: phase_figures(p) for p in run.phases} for run in runs}
    comparisons: dict[str, Figures] = {}
    for run in runs:
        base = run.variant.baseline
        if base in totals:
            comparisons[run.variant.name] = compare(totals[run.variant.name], totals[base])
            totals[run.variant.name].update(comparisons[run.variant.name])
    expectations = []
    for item in scenario.expect:
        names = [item.variant] if item.variant else [r.variant.name for r in runs]
        for name in names:
            entry = item.model_dump()
            entry["variant"] = name
            if name not in totals:
                expectations.append({**entry, "value": None, "passed": None, "reason": "skipped"})
                continue
            figures = per_phase[name].get(item.phase, {}) if item.phase else totals[name]
            expectations.append(evaluate(entry, figures))
    return {
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "file": source,
            "short": short,
        },
        "environment": env,
        "variants": [_variant(run, totals, per_phase, comparisons) for run in runs],
        "skipped_variants": list(skipped),
        "expectations": expectations,
        "passed": all(e["passed"] is not False for e in expectations)
        and not any(run.error for run in runs),
    }


def _variant(
    run: VariantRun,
    totals: dict[str, Figures],
    per_phase: dict[str, dict[str, Figures]],
    comparisons: dict[str, Figures],
) -> dict[str, Any]:
    name = run.variant.name
    return {
        "name": name,
        "description": run.variant.description,
        "baseline": run.variant.baseline,
        "profile": run.config.profile,
        "config": run.variant.config,
        "sandbox": run.sandbox,
        "error": run.error,
        "duration_s": round(run.ended_at - run.started_at, 3),
        "phases": [
            {
                "name": phase.name,
                "start_s": round(start - run.started_at, 3),
                "summary": phase.summary.model_dump(),
                "db": dict(phase.db),
                "figures": per_phase[name][phase.name],
            }
            for phase, start in zip(run.phases, run.phase_starts, strict=False)
        ],
        "figures": totals[name],
        "comparison": comparisons.get(name, {}),
        "faults": run.faults,
        "series": run.series,
    }


def write_json(report: dict[str, Any], out: Path) -> Path:
    """``out/report.json``."""
    path = out / "report.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return path


def _cell(value: Any, name: str) -> str:
    if value is None:
        return "-"
    if name.endswith("hit_ratio"):
        return f"{100 * value:.1f}%"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _table(rows: list[tuple[str, Figures]]) -> list[str]:
    columns, body = figure_table(rows)
    lines = [
        "| " + " | ".join(["", *(head for _, head in columns)]) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    for label, values in body:
        cells = [_cell(value, key) for value, (key, _) in zip(values, columns, strict=True)]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return lines


def markdown(report: dict[str, Any]) -> str:
    """``report.md``: what ran, the figures per variant and phase, the comparisons, the
    faults as they fired, and the expectations."""
    head = report["scenario"]
    env = report["environment"]
    lines = [f"# Scenario {head['name']}", "", head["description"], ""]
    lines.append(
        f"{env['cpus']} CPUs, load average {env['loadavg'][0]} at the start; "
        f"rdsbox {env['rdsbox']}; {'short form' if head['short'] else 'full length'}; "
        f"{env['started']}."
    )
    lines += ["", "## Whole run per variant", ""]
    lines += _table([(f"{v['name']} ({v['profile']})", v["figures"]) for v in report["variants"]])
    compared = [v for v in report["variants"] if v["comparison"]]
    if compared:
        lines += ["", "## Against the baseline", ""]
        lines += [
            "| variant | baseline | downtime | errors | p99 | throughput x |",
            "|---|---|---|---|---|---|",
        ]
        for v in compared:
            c = v["comparison"]
            lines.append(
                f"| {v['name']} | {v['baseline']} | {_pct(c['reduction_pct.downtime_s'])} | "
                f"{_pct(c['reduction_pct.errors'])} | {_pct(c['reduction_pct.latency_ms.p99'])} | "
                f"{_cell(c['ratio.throughput'], 'x')} |"
            )
        lines += ["", "Percentages are reductions against the baseline (negative: higher)."]
    lines += ["", "## Phases", ""]
    rows = [
        (f"{v['name']} / {p['name']}", p["figures"])
        for v in report["variants"]
        for p in v["phases"]
    ]
    lines += _table(rows)
    for v in report["variants"]:
        if v["faults"] or v["error"]:
            lines += ["", f"### Faults in {v['name']}", ""]
            lines += [
                f"- {f['load_at']:.2f} s of load (planned {f['at']:g} s; {f['fired_at']:.2f} s "
                f"after the variant started): {f['fault']} "
                f"{f.get('resolved') or f['target'] or ''}: {f['result']}"
                for f in v["faults"]
            ]
            if v["error"]:
                lines.append(f"- run stopped: {v['error']}")
    lines += ["", "## Expectations", ""]
    for e in report["expectations"]:
        mark = {True: "PASS", False: "FAIL", None: "SKIP"}[e["passed"]]
        where = e["variant"] + (f" / {e['phase']}" if e["phase"] else "")
        bound = " and ".join(f"{key} {e[key]:g}" for key in ("min", "max") if e[key] is not None)
        value = "-" if e["value"] is None else f"{e['value']:.4g}"
        reason = f" ({e['reason']})" if e["reason"] else ""
        lines.append(f"- {mark} `{e['metric']}` of {where}: {value}, {bound}{reason}")
    if report["skipped_variants"]:
        lines += ["", f"Skipped in the short form: {', '.join(report['skipped_variants'])}."]
    lines += ["", "Charts: " + ", ".join(f"![{c}]({c}.png)" for c in report.get("charts", []))]
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def write_markdown(report: dict[str, Any], out: Path) -> Path:
    """``out/report.md``."""
    path = out / "report.md"
    path.write_text(markdown(report))
    return path
