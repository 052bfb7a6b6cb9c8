"""Example-based checks of the input guards the fuzz tests exercise at random."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from sandbox.config.loader import load_config
from sandbox.errors import ConfigError
from sandbox.scenario.loader import load_scenario
from sandbox.supervisor.daemon import fault_body_problem

_SCENARIO = """name: failover-under-load
phases:
  - {name: warm, duration: 5}
faults:
  - {at: 1, fault: kill, target: primary}
variants:
  - {name: proxy, load: {path: proxy}}
expect:
  - {metric: errors, variant: proxy, max: 0}
"""


def test_a_valid_scenario_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(_SCENARIO)
    scenario = load_scenario(path)
    assert scenario.name == "failover-under-load" and scenario.duration == 5


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["must be a mapping"]),
        ("name: x\nphases: []\n", ["phases"]),
        (_SCENARIO.replace("duration: 5", "duration: -1"), ["phases.0.duration"]),
        (_SCENARIO.replace("path: proxy", "path: sideways"), ["phases.0", "path"]),
        (_SCENARIO.replace("variant: proxy", "variant: direct"), ["expect.0.variant", "proxy"]),
        ("name: x\nname: y\n", ["duplicate key"]),
        ("when: 2020-02-30\n", ["invalid YAML value", "quote it"]),
    ],
)
def test_a_bad_scenario_file_is_one_line(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_scenario(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message, message


def test_a_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text", ["x: 0000-00-00", "[" * 2000 + "]" * 2000])
def test_yaml_that_python_cannot_build_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rdsbox.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path, tmp_path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"fault": 5},
        {"fault": "hang", "target": 3},
        {"fault": "hang", "seconds": math.nan},
        {"fault": "hang", "seconds": math.inf},
        {"fault": "hang", "seconds": 0},
        {"fault": "hang", "seconds": 10**9},
        {"fault": "hang", "seconds": True},
        {"fault": "latency", "options": []},
        {"fault": "latency", "options": {"ms": math.nan}},
        {"fault": "latency", "options": {"ms": 1e12}},
        {"fault": "latency", "options": {"ms": "5"}},
    ],
)
def test_fault_bodies_out_of_type_or_range(body: dict[str, Any]) -> None:
    assert fault_body_problem(body) is not None


@pytest.mark.parametrize(
    "body",
    [
        {"fault": "kill", "target": "x"},
        {"fault": "hang", "target": "x", "seconds": 2.5},
        {"fault": "latency", "target": "writer", "options": {"ms": 50, "jitter": 5}},
        {"fault": "clear", "options": None, "seconds": None},
    ],
)
def test_fault_bodies_in_range(body: dict[str, Any]) -> None:
    assert fault_body_problem(body) is None
