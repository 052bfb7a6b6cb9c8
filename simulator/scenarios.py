"""Scenario files to simulated runs: built-in names, ``--set`` overrides and ``--sweep``.

Precedence of load options, lowest first: LoadSpec defaults < scenario ``load`` <
variant ``load`` < phase ``load`` < ``--set load.KEY`` (< ``--clients``). Configuration:
the config file < scenario ``config`` < variant ``config`` < ``--set KEY`` (any dotted
SandboxConfig key, e.g. ``proxy.max_connections_percent``). ``calibration.FIELD`` sets a
calibration figure; ``sim.seed`` and ``sim.arrivals`` (poisson | uniform) the model's own
options.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sandbox.config import SandboxConfig, config_from_mapping
from sandbox.errors import ConfigError
from sandbox.scenario import loader as scenario_loader
from sandbox.scenario.model import Scenario, TimedFault
from sandbox.workload.spec import LoadSpec
from simulator.calibration import Calibration

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
"""Built-in scenarios (the repository's ``scenarios/`` folder)."""

_CONFIG_KEYS = tuple(SandboxConfig.model_fields)
_SIM_KEYS = ("seed", "arrivals")
PREFIXES = ("load", "calibration", "sim", *_CONFIG_KEYS)


def builtin_names() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def find_scenario(name: str, cwd: Path) -> Path:
    """A scenario file path, or the built-in scenario of that name.

    Raises:
        ConfigError: neither a file nor a built-in name (the message lists the built-ins).
    """
    candidate = cwd / name
    if candidate.is_file():
        return candidate
    builtin = SCENARIO_DIR / f"{name}.yaml"
    if builtin.is_file():
        return builtin
    raise ConfigError(
        f"scenario {name!r}: no such file and no built-in of that name; "
        f"built-ins: {', '.join(builtin_names()) or '(none)'}"
    )


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file (one-line ConfigError on any problem): the
    sandbox's loader, so the simulator and `rdsbox scenario` read files alike."""
    return scenario_loader.load_scenario(path)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"{key}: {error['msg']}"


def parse_value(text: str) -> Any:
    """A command-line value read as a YAML scalar (``25`` int, ``true`` bool, else text)."""
    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def parse_assignment(item: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with a dotted, known-prefix key.

    Raises:
        ConfigError: no ``=`` or an unknown prefix.
    """
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. load.ttl=60")
    check_key(key)
    return key, parse_value(value)


def check_key(key: str) -> None:
    """Reject a dotted key whose first part no section knows, or an unknown load /
    calibration / sim field (config keys are checked when the config is built)."""
    head, _, rest = key.partition(".")
    if head not in PREFIXES:
        raise ConfigError(f"{key}: unknown key; allowed prefixes: {', '.join(PREFIXES)}")
    known = {
        "load": tuple(LoadSpec.model_fields),
        "calibration": tuple(Calibration.model_fields),
        "sim": _SIM_KEYS,
    }.get(head)
    if known is not None and rest not in known:
        raise ConfigError(f"{key}: unknown key; allowed after {head}.: {', '.join(known)}")


def parse_sweep(item: str) -> tuple[str, list[Any]]:
    """``KEY=v1,v2,...`` into the key and its values."""
    key, value = parse_assignment(item)
    values = [parse_value(v.strip()) for v in str(value).split(",") if v.strip()]
    if isinstance(value, list):  # YAML read "[1, 2]" as a list already
        values = list(value)
    if not values:
        raise ConfigError(f"--sweep {item!r}: no values; use KEY=v1,v2,...")
    return key, values


@dataclass
class PlannedRun:
    """Everything one simulated run needs."""

    name: str
    variant: str
    config: SandboxConfig
    phases: list[tuple[str, LoadSpec]]
    faults: list[TimedFault]
    calibration: Calibration
    seed: int | None
    poisson: bool
    settings: dict[str, Any] = field(default_factory=dict)


def plan_runs(
    scenario: Scenario,
    base_config: Mapping[str, Any],
    assignments: Sequence[tuple[str, Any]] = (),
    sweep: tuple[str, list[Any]] | None = None,
    clients: int | None = None,
    duration: float | None = None,
    calibration: Calibration | None = None,
) -> list[PlannedRun]:
    """One run per variant (and per sweep value), with every override applied.

    Raises:
        ConfigError: an invalid key or value (one line naming it).
    """
    runs = []
    points: list[list[tuple[str, Any]]] = [[]]
    if sweep is not None:
        points = [[(sweep[0], value)] for value in sweep[1]]
    for variant in scenario.variants:
        for point in points:
            name = variant.name + "".join(f" {k}={v}" for k, v in point)
            runs.append(
                _plan_one(
                    scenario,
                    variant.name,
                    base_config,
                    [*assignments, *point],
                    clients,
                    duration,
                    calibration or Calibration(),
                    name,
                )
            )
    return runs


def _plan_one(
    scenario: Scenario,
    variant_name: str,
    base_config: Mapping[str, Any],
    assignments: Sequence[tuple[str, Any]],
    clients: int | None,
    duration: float | None,
    calibration: Calibration,
    name: str,
) -> PlannedRun:
    variant = next(v for v in scenario.variants if v.name == variant_name)
    config_data = _merge(_merge(dict(base_config), scenario.config), variant.config)
    load: dict[str, Any] = {}
    calibration_data: dict[str, Any] = {}
    sim: dict[str, Any] = {}
    for key, value in assignments:
        head, _, rest = key.partition(".")
        if head == "load":
            load[rest] = value
        elif head == "calibration":
            calibration_data[rest] = value
        elif head == "sim":
            sim[rest] = value
        else:
            config_data = _merge(config_data, _nested(key, value))
    if clients is not None:
        load |= {"workers": clients, "concurrency": 1}
    config = config_from_mapping(config_data, source="--set")
    try:
        calibration = Calibration.model_validate({**calibration.model_dump(), **calibration_data})
    except ValidationError as exc:
        raise ConfigError(f"--set calibration.{_first_error(exc)}") from exc
    scale = duration / scenario.duration if duration is not None else 1.0
    phases = []
    for phase in scenario.phases:
        fields = scenario.phase_load(phase, variant, load)
        fields["duration"] = phase.duration * scale
        try:
            phases.append((phase.name, LoadSpec.model_validate(fields, strict=False)))
        except ValidationError as exc:
            raise ConfigError(f"load.{_first_error(exc)} (phase {phase.name})") from exc
    faults = [f.model_copy(update={"at": f.at * scale}) for f in scenario.faults]
    arrivals = sim.get("arrivals", "poisson")
    if arrivals not in ("poisson", "uniform"):
        raise ConfigError(f"sim.arrivals: {arrivals!r} is not allowed; allowed: poisson, uniform")
    seed = sim.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise ConfigError(f"sim.seed: {seed!r} is not an integer")
    settings = dict(assignments)
    return PlannedRun(
        name,
        variant_name,
        config,
        phases,
        faults,
        calibration,
        seed,
        arrivals == "poisson",
        settings,
    )


def _nested(key: str, value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    node = result
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return result


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of mappings (``extra`` wins); the inputs are left unchanged."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def raw_config(path: Path | None, cwd: Path) -> dict[str, Any]:
    """The user's configuration as written (validated first by ``load_config``), so that
    overrides merge with what the user set rather than with every default."""
    from sandbox.config import CONFIG_FILE_NAME, load_config

    load_config(path, cwd)  # reports a bad file in the loader's words
    full = (cwd / path) if path is not None else cwd / CONFIG_FILE_NAME
    if not full.is_file():
        return {}
    data = yaml.safe_load(full.read_text(encoding="utf-8"))
    return dict(data) if isinstance(data, dict) else {}
