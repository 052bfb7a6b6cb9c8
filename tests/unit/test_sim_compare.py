"""The side-by-side comparison of `rdsbox sim validate`: figures, relative errors, targets."""

from __future__ import annotations

import math

import pytest

from sandbox.workload.spec import CacheSummary, LatencySummary, LoadSummary
from simulator.compare import TARGETS, compare, downtime_rows, figures, relative_error


def _summary(ops: int, errors: int, mean: float, p99: float, hits: int, misses: int) -> LoadSummary:
    return LoadSummary(
        ops=ops,
        errors=errors,
        latency_ms=LatencySummary(mean=mean, p99=p99),
        cache=CacheSummary(hits=hits, misses=misses),
    )


def test_relative_error_takes_the_sandbox_as_reference() -> None:
    assert relative_error(100.0, 110.0) == pytest.approx(0.10)
    assert relative_error(100.0, 90.0) == pytest.approx(0.10)
    assert relative_error(2.0, 1.0) == pytest.approx(0.5)
    assert relative_error(0.0, 0.0) == 0.0
    assert math.isinf(relative_error(0.0, 1.0))


def test_figures_combine_phases_the_same_way_for_both_sides() -> None:
    warm = _summary(ops=90, errors=10, mean=4.0, p99=20.0, hits=10, misses=90)
    steady = _summary(ops=300, errors=0, mean=2.0, p99=8.0, hits=240, misses=60)
    result = figures([warm, steady], duration_s=4.0)
    assert result["throughput"] == pytest.approx(390 / 4.0)
    assert result["hit_ratio"] == pytest.approx(250 / 400)
    # Weighted by requests (failed ones too): (100 x 4 + 300 x 2) / 400.
    assert result["mean_ms"] == pytest.approx(2.5)
    assert result["p99_ms"] == 20.0


def test_figures_leave_out_the_hit_ratio_without_cache_lookups() -> None:
    assert "hit_ratio" not in figures([_summary(10, 0, 1.0, 2.0, 0, 0)], 1.0)


def test_rows_are_marked_against_their_targets() -> None:
    sandbox = {"throughput": 100.0, "hit_ratio": 0.8, "mean_ms": 2.0, "p99_ms": 10.0}
    model = {"throughput": 95.0, "hit_ratio": 0.5, "mean_ms": 2.1, "db_connections": 9.0}
    rows = {row.figure: row for row in compare("cache-aside", sandbox, model)}
    assert set(rows) == {"throughput", "hit_ratio", "mean_ms"}  # only figures on both sides
    assert rows["throughput"].ok and rows["mean_ms"].ok
    assert not rows["hit_ratio"].ok
    assert rows["hit_ratio"].error == pytest.approx(0.375)
    assert rows["throughput"].to_json()["ok"] is True


def test_downtime_has_a_looser_target_and_skips_unmeasured_faults() -> None:
    rows = downtime_rows("proxy", [5.0, None], [5.9, 3.0])
    assert [row.figure for row in rows] == ["downtime_s[0]"]
    assert rows[0].target == TARGETS["downtime_s"] == 0.20
    assert rows[0].ok  # 18% off
    assert not downtime_rows("proxy", [5.0], [6.5])[0].ok
    assert downtime_rows("proxy", [0.0], [1.0])[0].to_json()["error"] is None
