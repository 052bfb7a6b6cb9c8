"""Finding and reading scenario files: the built-ins (``scenarios/*.yaml``) and users' own.

Built-ins are looked up beside the package (an editable install or a checkout) and under
``<prefix>/share/rdsbox/scenarios`` (where a wheel installs them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pydantic
import yaml

from sandbox.config.loader import format_validation_error
from sandbox.errors import ConfigError
from sandbox.scenario.model import Scenario
from sandbox.scenario.validate import check_scenario

SUFFIXES = (".yaml", ".yml")


def scenario_dirs() -> list[Path]:
    """Directories holding built-in scenarios, in lookup order (existing ones only)."""
    candidates = [
        Path(__file__).resolve().parents[2] / "scenarios",
        Path(sys.prefix) / "share" / "rdsbox" / "scenarios",
    ]
    return [d for d in candidates if d.is_dir()]


def builtin_scenarios() -> dict[str, Path]:
    """Built-in scenario name (file stem) -> file; the first directory wins."""
    found: dict[str, Path] = {}
    for directory in scenario_dirs():
        for path in sorted(directory.iterdir()):
            if path.suffix in SUFFIXES:
                found.setdefault(path.stem, path)
    return found


def read_scenario(path: Path) -> Scenario:
    """Parse and check one scenario file.

    Raises:
        ConfigError: one line naming the file, the key and the problem.
    """
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read scenario file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}{where}: {problem}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a scenario is a mapping with name, phases, ...")
    try:
        scenario = Scenario.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path))) from None
    check_scenario(scenario, str(path))
    return scenario


def find_scenario(name_or_file: str) -> tuple[Scenario, Path]:
    """A built-in by name, or a file by path.

    Raises:
        ConfigError: neither a built-in nor a readable scenario file.
    """
    builtins = builtin_scenarios()
    path = Path(name_or_file)
    if name_or_file in builtins and not path.exists():
        path = builtins[name_or_file]
    elif not path.exists():
        names = ", ".join(builtins) or "none found"
        raise ConfigError(
            f"no scenario '{name_or_file}': not a file, nor a built-in ({names}); "
            "see `rdsbox scenario list`"
        )
    return read_scenario(path), path
