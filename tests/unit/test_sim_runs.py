"""The simulator's runs: reproducibility, failover timelines, scenarios and the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from sandbox.cli.app import main
from sandbox.config import config_from_mapping
from sandbox.config.profiles import timing_profile
from sandbox.errors import ConfigError
from sandbox.scenario.model import TimedFault
from sandbox.workload.spec import LoadSpec
from simulator.calibrate import calibration_from
from simulator.calibration import Calibration, load_calibration
from simulator.expectations import check_expectations
from simulator.failures import implied_downtime
from simulator.runner import simulate
from simulator.scenarios import builtin_names, find_scenario, load_scenario, plan_runs

_SPEC = LoadSpec(rate=500, duration=10, read_ratio=0.8)


def test_same_seed_same_result_other_seed_other_result() -> None:
    config = config_from_mapping({})
    first = simulate(config, [("a", _SPEC)], seed=5)
    again = simulate(config, [("a", _SPEC)], seed=5)
    other = simulate(config, [("a", _SPEC)], seed=6)
    assert first.summary == again.summary
    assert first.samples == again.samples
    assert first.summary != other.summary


@pytest.mark.parametrize("path", ["proxy", "writer"])
def test_failover_downtime_is_what_the_timing_fields_imply(path: str) -> None:
    config = config_from_mapping({"profile": "aws", "database": {"read_replicas": 0}})
    calibration = Calibration()
    spec = LoadSpec(rate=200, duration=100, read_ratio=0.5, strategy="none", path=path)
    crash_at = 10.0
    result = simulate(
        config,
        [("failover", spec)],
        [TimedFault(at=crash_at, fault="kill", target="primary")],
        calibration=calibration,
    )
    expected = implied_downtime(config.timing_profile(), calibration, path)
    (downtime,) = result.downtime_s
    assert downtime is not None
    # The direct path may add up to one client back-off (1 s in the aws profile) before
    # a retry lands after the DNS flip; the proxy releases held queries at once.
    slack = config.timing_profile().client_backoff_s if path == "writer" else 0.05
    assert expected <= downtime <= expected + slack, (downtime, expected)
    assert result.summary.errors > 0


def test_proxy_keeps_errors_away_during_a_fast_failover() -> None:
    # fast profile with a crash noticed after 0.6 s (as a hang is): the outage (about
    # 1.1 s) is shorter than the 2 s client timeout, so queries held by the proxy succeed
    # while direct clients see refused connections.
    scenario = load_scenario(find_scenario("failover-under-load", Path.cwd()))
    detection = [("timing.crash_detection_s", 0.6)]
    runs = {plan.name: plan for plan in plan_runs(scenario, {}, detection)}
    results = {
        name: simulate(plan.config, plan.phases, plan.faults, plan.calibration)
        for name, plan in runs.items()
    }
    assert results["proxy"].summary.errors == 0
    assert results["direct"].summary.errors_by_kind.get("refused", 0) > 0
    verdicts = check_expectations(
        scenario,
        [(name, runs[name].variant, r.summary.model_dump()) for name, r in results.items()],
    )
    assert [(v.run, v.metric, v.ok) for v in verdicts] == [("proxy", "errors", True)]


def test_builtin_scenarios_plan_and_bad_overrides_name_the_key() -> None:
    assert {"cache-aside-vs-none", "failover-under-load", "connection-storm-at-scale"} <= set(
        builtin_names()
    )
    scenario = load_scenario(find_scenario("connection-storm-at-scale", Path.cwd()))
    planned = plan_runs(scenario, {}, [("proxy.max_connections_percent", 25)], clients=50)
    assert planned[0].phases[0][1].workers == 50
    assert planned[0].config.proxy.max_connections_percent == 25
    with pytest.raises(ConfigError, match=r"proxy\.max_connections_percent"):
        plan_runs(scenario, {}, [("proxy.max_connections_percent", 0)])
    with pytest.raises(ConfigError, match=r"load\.rate"):
        plan_runs(scenario, {}, [("load.rate", -1)])


def test_calibration_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "calibration.yaml"
    path.write_text("source: test\ndb_read_ms: 2.5\n")
    assert load_calibration(path).db_read_ms == 2.5
    path.write_text("db_reed_ms: 2.5\n")
    with pytest.raises(ConfigError, match="db_reed_ms: unknown key"):
        load_calibration(path)


def _rdsbox(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    """Run the rdsbox console entry point in-process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["rdsbox", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_cli_runs_a_sweep_with_charts_and_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "cache-aside-vs-none.yaml"
    monkeypatch.chdir(tmp_path)
    status, out, err = _rdsbox(
        capsys, monkeypatch, "sim", "run", str(scenario), "--duration", "2",
        "--sweep", "load.ttl=5,60", "--out", str(tmp_path / "out"), "--cost", "--json",
    )  # fmt: skip
    assert status == 0, err
    document = json.loads(out)
    assert [run["name"] for run in document["runs"]] == [
        "none load.ttl=5", "none load.ttl=60", "cache-aside load.ttl=5", "cache-aside load.ttl=60",
    ]  # fmt: skip
    assert document["runs"][3]["summary"]["source"] == "simulator"
    assert document["runs"][0]["cost"]["monthly"] > 0
    assert (tmp_path / "out" / "timeline.png").stat().st_size > 0
    assert (tmp_path / "out" / "sweep.png").stat().st_size > 0


def test_cli_bad_set_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for bad in ("proxy.bogus=1", "load.rate=fast", "nonsense=1"):
        status, _, err = _rdsbox(
            capsys, monkeypatch, "sim", "run", "connection-storm-at-scale", "--set", bad
        )
        assert status == 2
        assert len(err.strip().splitlines()) == 1
        assert bad.split("=")[0] in err


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("start_delay_percentiles_ms", {50: 1.0}, "at least two percentiles"),
        ("round_trip_extra_percentiles_ms", {0: 0.0, 101: 1.0}, "between 0 and 100"),
        ("round_trip_extra_percentiles_ms", {0: 2.0, 100: 1.0}, "grow with the percentile"),
    ],
)
def test_calibration_distributions_are_checked(
    tmp_path: Path, field: str, value: dict[float, float], problem: str
) -> None:
    path = tmp_path / "calibration.yaml"
    path.write_text(yaml.safe_dump({field: value}))
    with pytest.raises(ConfigError, match=problem) as caught:
        load_calibration(path)
    assert field in str(caught.value)


def test_calibration_from_measured_figures() -> None:
    figures = {
        "redis_ping": 0.2, "redis_get": 0.25, "redis_set": 0.27, "writer_read": 0.5,
        "writer_read_cv": 0.3, "writer_write_local": 0.9, "writer_write": 1.2,
        "proxy_read": 0.6, "writer_connect": 9.0, "proxy_connect": 4.0,
    }  # fmt: skip
    aws = timing_profile("aws")
    client = {"start_delay_percentiles_ms": {0.0: 0.0, 100.0: 3.0}}
    planned = calibration_from(figures, {"proxy": 40.0}, aws, client=client)
    crash = calibration_from(figures, {"proxy": 40.0}, aws, crash=True)
    # The promotion work is what the proxy's downtime leaves after the profile's delays;
    # a crash also spent crash_detection_s before anything started.
    assert planned.promote_s == pytest.approx(40.0 - 20.0 - 3.0)
    assert crash.promote_s == pytest.approx(40.0 - 15.0 - 20.0 - 3.0)
    assert planned.db_read_ms == pytest.approx(0.3) and planned.sync_commit_ms == pytest.approx(0.3)
    assert planned.retries == 0  # rdsbox's load generator gives a failed request up
    assert planned.start_delay_percentiles_ms == {0.0: 0.0, 100.0: 3.0}
    assert crash.start_delay_percentiles_ms is None
