"""Every built-in scenario end to end in its short form, through `rdsbox scenario run`.

The scenarios whose configuration is the default topology share one sandbox
(``--use-running``); the storm (max_connections 20) and write-behind loss (one cache node)
start their own, as a user's run would."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import Sandbox

pytestmark = pytest.mark.integration

SHARED = (
    "cache-aside",
    "failover-multi-az",
    "failover-redis",
    "secret-rotation",
    "replica-lag",
    "hot-key-stampede",
)
OWN = ("connection-storm", "write-behind-loss")
WITH_CHARTS = ("failover-multi-az", "connection-storm")


@pytest.fixture(scope="module")
def shared_box(make_sandbox: Callable[..., Sandbox]) -> Iterator[Sandbox]:
    box = make_sandbox()
    box.up()
    yield box
    box.down("--purge")


def run_scenario(
    box: Sandbox, name: str, out: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    charts = () if name in WITH_CHARTS else ("--no-charts",)
    done = box.rdsbox(
        "scenario",
        "run",
        name,
        "--out",
        str(out),
        "--short",
        "--json",
        *charts,
        *extra,
        timeout=240,
        config=False,
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads((out / "report.json").read_text())
    assert (out / "report.md").read_text().startswith(f"# Scenario {name}")
    for chart in report["charts"]:
        assert (out / f"{chart}.png").read_bytes().startswith(b"\x89PNG")
    if name in WITH_CHARTS:
        assert {"throughput", "latency_p99", "errors"} <= set(report["charts"])
    outcome = json.loads(done.stdout)
    assert outcome["passed"] is report["passed"] is (done.returncode == 0)
    return done, report


def check_report(report: dict[str, Any], done: subprocess.CompletedProcess[str]) -> None:
    """Every expectation was evaluated and held; every variant ran all its phases."""
    failed = [e for e in report["expectations"] if e["passed"] is False]
    assert not failed, f"{failed}\n{done.stderr[-3000:]}"
    assert report["expectations"]
    for variant in report["variants"]:
        assert variant["error"] is None
        assert variant["phases"] and all(p["summary"]["ops"] > 0 for p in variant["phases"])
        assert variant["series"]["Requests"], "per-second series collected"


@pytest.mark.parametrize("name", SHARED)
def test_builtin_on_shared_sandbox(shared_box: Sandbox, name: str, tmp_path: Path) -> None:
    done, report = run_scenario(shared_box, name, tmp_path / name, "--use-running")
    check_report(report, done)
    assert all(v["sandbox"]["state_dir"] == str(shared_box.state_dir) for v in report["variants"])
    if name == "failover-multi-az":
        direct, proxy = report["variants"]
        assert [f["fault"] for f in direct["faults"]] == ["kill"]
        assert direct["faults"][0]["resolved"].startswith("app-primary-db-")
        assert 0 < direct["figures"]["downtime_s"] < 10
        assert proxy["comparison"]["reduction_pct.downtime_s"] is not None
        assert report["skipped_variants"] == ["direct-aws", "proxy-aws"]
    if name == "cache-aside":
        none, cached = report["variants"]
        assert none["figures"]["cache.hit_ratio"] == 0
        assert cached["comparison"]["reduction_pct.app.db_queries"] > 40


@pytest.mark.parametrize("name", OWN)
def test_builtin_on_own_sandbox(
    make_sandbox: Callable[..., Sandbox], name: str, tmp_path: Path
) -> None:
    # make_sandbox gives a port block of our own; the scenario starts its sandbox there.
    box = make_sandbox()
    done, report = run_scenario(box, name, tmp_path / name)
    check_report(report, done)
    roots = {v["sandbox"]["state_dir"] for v in report["variants"]}
    assert len(roots) == 1 and all(v["sandbox"]["started_for_run"] for v in report["variants"])
    assert not Path(roots.pop()).exists(), "the scenario's sandbox is stopped and deleted"
    if name == "connection-storm":
        direct, proxy = report["variants"]
        assert direct["figures"]["errors_by_kind.refused"] > 0
        assert proxy["figures"]["errors"] == 0
        assert direct["figures"]["db.new_backends"] > 10 * proxy["figures"]["db.new_backends"]


def test_bad_scenario_file_is_one_line_exit_2(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    box = make_sandbox()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "phases": [{"name": "p", "duration": 1}],
                "faults": [{"at": 0, "fault": "explode", "target": "primary"}],
            }
        )
    )
    for argv, says in (([str(bad)], "unknown fault 'explode'"), (["nope"], "no scenario 'nope'")):
        done = box.rdsbox("scenario", "run", *argv, "--out", str(tmp_path / "o"), config=False)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert says in done.stderr


def test_list_names_every_builtin(make_sandbox: Callable[..., Sandbox]) -> None:
    done = make_sandbox().rdsbox("scenario", "list", "--json", config=False)
    names = {row["name"] for row in json.loads(done.stdout)}
    assert {*SHARED, *OWN} <= names
