"""The scenario runner's pure parts: downtime, figures, comparisons, expectations, the
short form, fault placement, alias resolution, file checks and the markdown report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.errors import ConfigError, RdsboxError
from sandbox.scenario.builtins import builtin_scenarios, find_scenario, read_scenario
from sandbox.scenario.dbprobe import counter_deltas
from sandbox.scenario.fault_targets import resolve_target
from sandbox.scenario.figures import (
    PhaseResult,
    app_db_queries,
    compare,
    downtime,
    evaluate,
    phase_figures,
    total_figures,
)
from sandbox.scenario.model import Scenario
from sandbox.scenario.report import markdown
from sandbox.scenario.runner import load_time
from sandbox.scenario.shorten import shorten
from sandbox.scenario.timer import place
from sandbox.workload.recorder import Recorder, Stats, longest_gap
from sandbox.workload.spec import CacheSummary, LatencySummary, LoadSpec, LoadSummary


def phase(
    name: str, duration: float, ok_at: list[float], strategy: str = "none", **counts: Any
) -> PhaseResult:
    """A phase of ``duration`` s whose writes succeeded at ``ok_at`` (seconds)."""
    summary = LoadSummary(
        ops=counts.get("ops", 100),
        errors=counts.get("errors", 0),
        reads=counts.get("reads", 0),
        writes=counts.get("writes", len(ok_at) or 1),
        duration_s=duration,
        throughput=counts.get("ops", 100) / duration,
        latency_ms=LatencySummary(p50=counts.get("p50", 1.0), p99=counts.get("p99", 5.0)),
        cache=CacheSummary(hits=counts.get("hits", 0), misses=counts.get("misses", 0)),
        write_ok_ticks=[round(t * 100) for t in ok_at],
    )
    spec = LoadSpec.model_validate({"strategy": strategy})
    return PhaseResult(name, spec, summary, counts.get("db", {}))


def test_longest_gap_counts_the_edges() -> None:
    assert longest_gap([1.0, 2.0, 2.5], 0.0, 3.0) == (1.0, 0.0)
    assert longest_gap([0.1, 0.2, 3.2], 0.0, 3.5) == pytest.approx((3.0, 0.2))
    # never recovered: the rest of the run is the gap
    assert longest_gap([0.5], 0.0, 10.0) == (9.5, 0.5)
    assert longest_gap([], 0.0, 4.0) == (4.0, 0.0)


def test_downtime_joins_phases_and_skips_the_pause_between_them() -> None:
    steady = phase("steady", 3.0, [i / 10 for i in range(30)])  # up to 2.9 s
    failover = phase("failover", 3.0, [1.2, 1.3, 2.0])  # down until 1.2 s into it
    seconds, began = downtime([steady, failover])
    assert seconds == pytest.approx(0.1 + 1.2)
    assert began == pytest.approx(2.9)


def test_figures_sum_counters_recompute_rates_and_take_the_worst_latency() -> None:
    a = phase(
        "a",
        2.0,
        [0.5],
        ops=100,
        errors=2,
        p99=10.0,
        hits=30,
        misses=10,
        db={"db.new_backends": 4.0, "db.transactions": 50.0, "db.peak_connections": 3.0},
    )
    b = phase(
        "b",
        2.0,
        [0.5],
        ops=300,
        errors=0,
        p99=4.0,
        hits=90,
        misses=10,
        db={"db.new_backends": None, "db.transactions": 10.0, "db.peak_connections": 7.0},
    )
    total = total_figures([a, b])
    assert total["ops"] == 400 and total["errors"] == 2
    assert total["throughput"] == pytest.approx(100.0)
    assert total["latency_ms.p99"] == 10.0
    assert total["cache.hit_ratio"] == pytest.approx(120 / 140)
    assert total["db.new_backends"] == 4.0  # the unmeasured phase is left out
    assert total["db.peak_connections"] == 7.0
    assert total["db.backends_per_request"] == pytest.approx(4.0 / 400)
    assert phase_figures(a)["errors_by_kind.refused"] == 0


def test_app_db_queries_follow_the_strategy() -> None:
    none = LoadSpec.model_validate({"strategy": "none"})
    aside = LoadSpec.model_validate({"strategy": "cache-aside"})
    behind = LoadSpec.model_validate({"strategy": "write-behind"})
    s = LoadSummary(reads=90, writes=10, cache=CacheSummary(hits=80, misses=10))
    assert app_db_queries(none, s) == 100
    assert app_db_queries(aside, s) == 20
    assert app_db_queries(behind, s) == 10


def test_compare_reduction_and_ratio() -> None:
    base = {"downtime_s": 66.0, "errors": 0.0, "throughput": 100.0}
    out = compare({"downtime_s": 38.0, "errors": 5.0, "throughput": 130.0}, base)
    assert out["reduction_pct.downtime_s"] == pytest.approx(100 * 28 / 66)
    assert out["reduction_pct.errors"] is None  # no baseline to divide by
    assert out["ratio.throughput"] == pytest.approx(1.3)
    assert out["reduction_pct.latency_ms.p99"] is None


def test_evaluate_bounds_and_missing_figures() -> None:
    item = {"metric": "errors", "variant": "proxy", "phase": None, "min": None, "max": 0}
    assert evaluate(item, {"errors": 0.0})["passed"] is True
    failed = evaluate(item, {"errors": 3.0})
    assert failed["passed"] is False and failed["reason"] == "above max 0"
    assert evaluate({**item, "min": 1, "max": None}, {"errors": 0.0})["reason"] == "below min 1"
    assert evaluate(item, {"errors": None})["reason"] == "not measured in this run"


SCENARIO = {
    "name": "t",
    "phases": [{"name": "warm", "duration": 10}, {"name": "hit", "duration": 20}],
    "faults": [
        {"at": 5, "fault": "hang", "target": "primary", "for": 4},
        {"at": 20, "fault": "kill", "target": "primary"},
    ],
    "variants": [{"name": "a"}, {"name": "slow", "config": {"profile": "aws"}}],
    "short": {"phase_seconds": 2, "skip": ["slow"], "load": {"rate": 50}},
}


def test_short_form_keeps_faults_in_place_within_their_phase() -> None:
    short = shorten(Scenario.model_validate(SCENARIO))
    assert [p.duration for p in short.phases] == [2, 2]
    hang, kill = short.faults
    assert (hang.at, hang.seconds) == (1.0, pytest.approx(0.8))
    assert kill.at == pytest.approx(2 + 10 * 2 / 20)
    assert [v.name for v in short.variants] == ["a"]
    assert short.load == {"rate": 50}


def test_faults_are_placed_in_their_phase() -> None:
    phases = Scenario.model_validate(SCENARIO).phases
    assert place(5, phases) == (0, 5)
    assert place(10, phases) == (1, 0)
    assert place(45, phases) == (1, 35)


def test_role_aliases_resolve_from_the_status() -> None:
    status = {
        "components": [
            {"name": "db-a", "kind": "postgres", "role": "standby"},
            {"name": "db-b", "kind": "postgres", "role": "primary"},
            {"name": "redis-2", "kind": "redis", "role": "primary"},
        ]
    }
    assert resolve_target("primary", status) == "db-b"
    assert resolve_target("cache_primary", status) == "redis-2"
    assert resolve_target("writer", status) == "writer"
    assert resolve_target(None, status) is None
    with pytest.raises(RdsboxError, match="no postgres component has the role replica"):
        resolve_target("replica", status)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"faults": [{"at": 0, "fault": "explode"}]}, "unknown fault 'explode'"),
        ({"expect": [{"metric": "nonsense", "max": 1}]}, "unknown metric 'nonsense'"),
        ({"expect": [{"metric": "errors", "variant": "zz", "max": 1}]}, "no variant 'zz'"),
        ({"expect": [{"metric": "errors", "phase": "zz", "max": 1}]}, "no phase 'zz'"),
        ({"expect": [{"metric": "errors"}]}, "give min, max or both"),
        ({"load": {"rate": -1}}, "load.rate"),
        ({"variants": [{"name": "a", "baseline": "a"}]}, "baseline 'a' is not another"),
        ({"phases": []}, "phases"),
    ],
)
def test_bad_scenario_files_say_what_is_wrong(
    tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**SCENARIO, "short": {}, **change}))
    with pytest.raises(ConfigError, match=says) as caught:
        read_scenario(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_every_builtin_is_valid_and_found_by_name() -> None:
    builtins = builtin_scenarios()
    assert len(builtins) >= 8
    for name in builtins:
        scenario, path = find_scenario(name)
        assert scenario.name == name == path.stem
        assert scenario.description
        shorten(scenario)
    with pytest.raises(ConfigError, match="no scenario 'nope'"):
        find_scenario("nope")


def test_markdown_shows_figures_comparison_faults_and_expectations() -> None:
    figures = {"ops": 10.0, "errors": 1.0, "throughput": 5.0, "downtime_s": 1.5}
    variant: dict[str, Any] = {
        "name": "proxy",
        "profile": "fast",
        "baseline": "direct",
        "figures": figures,
        "comparison": {
            "reduction_pct.downtime_s": 42.0,
            "reduction_pct.errors": None,
            "reduction_pct.latency_ms.p99": 10.0,
            "ratio.throughput": 1.1,
        },
        "phases": [{"name": "p", "figures": figures}],
        "faults": [
            {
                "at": 2,
                "fired_at": 4.5,
                "load_at": 2.1,
                "fault": "kill",
                "target": "primary",
                "resolved": "db-a",
                "result": "killed db-a",
            }
        ],
        "error": None,
    }
    report = {
        "scenario": {"name": "s", "description": "d", "short": True},
        "environment": {"cpus": 2, "loadavg": [1.0], "rdsbox": "0", "started": "now"},
        "variants": [variant],
        "expectations": [
            {
                "metric": "errors",
                "variant": "proxy",
                "phase": None,
                "min": None,
                "max": 0,
                "value": 1.0,
                "passed": False,
                "reason": "above max 0",
            }
        ],
        "skipped_variants": ["aws"],
        "charts": ["throughput"],
    }
    text = markdown(report)
    assert "| proxy (fast) | 10 | 1 | 5 | 1.50 |" in text
    assert "| proxy | direct | 42.0% | - | 10.0% | 1.10 |" in text
    assert "2.10 s of load (planned 2 s; 4.50 s after the variant started): kill db-a" in text
    assert "- FAIL `errors` of proxy: 1, max 0 (above max 0)" in text
    assert "Skipped in the short form: aws." in text
    assert "![throughput](throughput.png)" in text


def test_counter_deltas_skip_restarted_and_unseen_nodes() -> None:
    before = {"a": (10, 100), "b": (5, 50), "gone": (1, 1)}
    after = {"a": (15, 130), "b": (2, 60), "new": (9, 9)}  # b restarted: counters went back
    assert counter_deltas(before, after) == {"db.new_backends": 5.0, "db.transactions": 30.0}
    assert counter_deltas({}, after) == {"db.new_backends": None, "db.transactions": None}


def test_write_timeline_survives_the_wire_and_merges() -> None:
    first, second = Recorder(), Recorder()
    first.record(0.01, read=False, tick=5)
    first.record(0.01, read=False, error="reset", tick=6)  # failed: not in the timeline
    first.record(0.01, read=True, tick=7)  # a read: not a write
    second.record(0.01, read=False, tick=9)
    merged = Stats()
    for recorder in (first, second):
        merged.add(Stats.from_wire(recorder.take_interval().to_wire()))
    assert merged.write_ok == {5, 9}


def test_load_time_lays_phases_end_to_end() -> None:
    windows = [(100.0, 103.0), (110.0, 113.0)]
    assert load_time(101.5, windows) == 1.5
    assert load_time(105.0, windows) == 3.0  # between phases: the next one's start
    assert load_time(111.0, windows) == 4.0
    assert load_time(120.0, windows) == 6.0


def test_each_phase_draws_its_own_request_stream() -> None:
    # Phases are separate load runs; with one seed the second would replay the first's
    # keys in the same order and find every one of them cached.
    scenario = Scenario.model_validate(
        {
            "name": "seeds",
            "load": {"seed": 7},
            "phases": [
                {"name": "a", "duration": 1},
                {"name": "b", "duration": 1},
                {"name": "c", "duration": 1, "load": {"seed": 99}},
            ],
        }
    )
    variant = scenario.variants[0]
    seeds = [scenario.phase_spec(phase, variant).seed for phase in scenario.phases]
    assert seeds == [7, 8, 99]  # a phase's own seed is kept as written
