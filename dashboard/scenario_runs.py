"""Scenarios for the dashboard: the built-ins, runs of `rdsbox scenario run` in the
background, and the reports they leave in ``STATE/scenarios/``.

The scenario runner is found at run time (it may be missing from a build); without it the
scenario files under ``scenarios/`` are listed for reading.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sandbox.statedir import StateDir

REPO_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@dataclass(frozen=True)
class ScenarioEntry:
    """One scenario file and what it says about itself."""

    name: str
    path: Path
    description: str
    variants: tuple[str, ...]


def runner_available() -> bool:
    """Whether `rdsbox scenario run` exists in this build."""
    try:
        importlib.import_module("sandbox.scenario.runner")
    except ImportError:
        return False
    return True


def discover() -> list[ScenarioEntry]:
    """The built-in scenarios (the runner's list when it exists, else ``scenarios/``)."""
    try:
        builtins: Any = importlib.import_module("sandbox.scenario.builtins")
        found = dict(builtins.builtin_scenarios())
    except (ImportError, AttributeError):
        found = {p.stem: p for p in sorted(REPO_SCENARIOS.glob("*.y*ml"))}
    return [_entry(name, Path(path)) for name, path in found.items()]


def _entry(name: str, path: Path) -> ScenarioEntry:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    variants = tuple(str(v.get("name", "?")) for v in data.get("variants") or [{"name": "default"}])
    return ScenarioEntry(name, path, str(data.get("description", "")).strip(), variants)


def reports_root(state: StateDir) -> Path:
    """Where the dashboard's scenario runs write their reports."""
    return state.root / "scenarios"


def new_run_dir(state: StateDir, name: str) -> Path:
    """A fresh output directory for one run of ``name``."""
    return reports_root(state) / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"


def run_args(name: str, out: Path, short: bool, use_running: bool) -> list[str]:
    """`rdsbox scenario run` arguments."""
    args = ["scenario", "run", name, "--out", str(out), "--json"]
    if short:
        args.append("--short")
    if use_running:
        args.append("--use-running")
    return args


def reports(state: StateDir) -> list[Path]:
    """Directories holding a ``report.json``, newest first."""
    root = reports_root(state)
    found = [p.parent for p in root.glob("*/report.json")] if root.is_dir() else []
    return sorted(found, key=lambda p: p.name, reverse=True)


def load_report(directory: Path) -> dict[str, Any]:
    """The report of one run (empty when unreadable)."""
    try:
        return dict(json.loads((directory / "report.json").read_text()))
    except (OSError, ValueError):
        return {}


def figures_table(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Figure name -> {variant: value}: the variants side by side."""
    table: dict[str, dict[str, Any]] = {}
    for variant in report.get("variants") or []:
        for figure, value in (variant.get("figures") or {}).items():
            table.setdefault(figure, {})[str(variant.get("name"))] = value
    return table


def series_by_metric(report: dict[str, Any]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Metric -> {variant: [(seconds since the variant began, value)]}: one chart per
    metric, a line per variant (variants ran one after the other; this aligns them)."""
    charts: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for variant in report.get("variants") or []:
        series = variant.get("series") or {}
        stamps = [float(t) for points in series.values() for t, _ in points]
        # Epoch stamps are shifted to the variant's start; relative ones are kept.
        origin = min(stamps) if stamps and min(stamps) > 1e9 else 0.0
        for metric, points in series.items():
            pairs = [(float(t) - origin, float(v)) for t, v in points]
            charts.setdefault(metric, {})[str(variant.get("name"))] = pairs
    return charts
