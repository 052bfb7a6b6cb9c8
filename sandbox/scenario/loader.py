"""Reading scenario files: YAML text to a checked :class:`Scenario`, or one line saying why not.

Every problem is a :class:`sandbox.errors.ConfigError` of one line that names the file, the
key path and what is wrong, e.g. ``failover.yaml: phases.0.duration: Input should be
greater than 0``. Besides the file format itself, the load options of every phase under
every variant must make a valid :class:`LoadSpec`, and an expectation may only name a
variant that exists: both would otherwise fail only in the middle of a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sandbox.config.loader import parse_yaml
from sandbox.errors import ConfigError
from sandbox.scenario.model import Scenario

#: Scenario files are small; a larger one is a mistake (or not a scenario at all).
MAX_SCENARIO_BYTES = 1_000_000


def load_scenario(path: Path) -> Scenario:
    """Read and check the scenario file ``path``.

    Raises:
        ConfigError: missing, unreadable, not UTF-8, invalid YAML, not a mapping, or an
            invalid value; always one line.
    """
    display = _one_line(str(path))
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ConfigError(
                f"{display}: larger than {MAX_SCENARIO_BYTES} bytes; is it a scenario file?"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"scenario file {display} not found; check the path") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{display}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"{display}: cannot read scenario file: {exc.strerror or exc}; "
            "check that it is a readable file"
        ) from exc
    return scenario_from_text(text, display)


def scenario_from_text(text: str, source: str = "scenario") -> Scenario:
    """Parse YAML ``text`` into a checked Scenario (``source`` prefixes error messages)."""
    data = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: a scenario file must be a mapping with at least name and phases, "
            f"got {type(data).__name__ if data is not None else 'an empty file'}"
        )
    return scenario_from_mapping(data, source)


def scenario_from_mapping(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Validate a parsed mapping into a Scenario, with the cross-checks described above."""
    try:
        scenario = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_first_error(exc, source)) from exc
    variants = [v.name for v in scenario.variants]
    for variant in scenario.variants:
        for index, phase in enumerate(scenario.phases):
            try:
                scenario.phase_spec(phase, variant)
            except ValidationError as exc:
                where = f"{source}: phases.{index} ({phase.name!r}) load, variant {variant.name!r}"
                raise ConfigError(_first_error(exc, where)) from exc
    for index, expectation in enumerate(scenario.expect):
        if expectation.variant is not None and expectation.variant not in variants:
            raise ConfigError(
                _one_line(
                    f"{source}: expect.{index}.variant: {expectation.variant!r} is not a "
                    f"variant; use one of {', '.join(map(repr, variants))}"
                )
            )
    return scenario


def _first_error(exc: ValidationError, source: str) -> str:
    error = exc.errors()[0]
    path = _path(error["loc"])
    return _one_line(f"{source}: {path + ': ' if path else ''}{error['msg']}")


def _path(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _one_line(text: str) -> str:
    """Messages are one line whatever the file held (keys may contain newlines)."""
    return " ".join(text.splitlines())
