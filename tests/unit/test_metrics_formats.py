"""`rdsbox metrics` output formats and time options, and the store's dashboard queries."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path

import pytest

from sandbox.cli.app import main
from sandbox.errors import ConfigError
from sandbox.metrics import MetricsStore, Sample
from sandbox.metrics.formats import parse_time, snake_case, to_csv, to_json, to_prometheus

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60", NOW - 60),
        ("90s", NOW - 90),
        ("5m", NOW - 300),
        ("2h", NOW - 7200),
        ("1d", NOW - 86400),
        ("0.5", NOW - 0.5),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20", 1_700_000_000.0),  # no offset: UTC
        ("2023-11-15T00:13:20+02:00", 1_700_000_000.0),
    ],
)
def test_times_are_seconds_ago_spans_ago_or_iso(text: str, expected: float) -> None:
    assert parse_time("--since", text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "-5", "5 minutes", ""])
def test_a_bad_time_is_one_line_naming_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--since .*: not a time; use seconds ago"):
        parse_time("--since", text, NOW)


@pytest.mark.parametrize(
    ("metric", "snake"),
    [
        ("CPUUtilization", "cpu_utilization"),
        ("ReadIOPS", "read_iops"),
        ("DatabaseConnectionsBorrowLatency", "database_connections_borrow_latency"),
        ("RequestLatencyP99", "request_latency_p99"),
        ("NetworkBytesIn", "network_bytes_in"),
    ],
)
def test_prometheus_names_are_snake_case(metric: str, snake: str) -> None:
    assert snake_case(metric) == snake


SAMPLES = [
    Sample(NOW, "app-db-proxy", "ClientConnections", 4.0),
    Sample(NOW + 1, "app-redis-cluster-001", "CacheHits", 12.5),
]


def test_json_and_csv_carry_time_source_metric_value_unit() -> None:
    assert json.loads(to_json(SAMPLES))[1] == {
        "ts": NOW + 1,
        "source": "app-redis-cluster-001",
        "metric": "CacheHits",
        "value": 12.5,
        "unit": "Count",
    }
    rows = list(csv.reader(io.StringIO(to_csv(SAMPLES))))
    assert rows[0] == ["ts", "source", "metric", "value", "unit"]
    assert rows[1] == ["1700000000.000", "app-db-proxy", "ClientConnections", "4.0", "Count"]


def test_prometheus_exposition_has_help_type_and_millisecond_timestamps() -> None:
    latest = [*SAMPLES, Sample(NOW, 'we"ird\\', "CacheHits", 1.0)]
    assert to_prometheus(latest) == (
        "# HELP rdsbox_cache_hits CloudWatch metric CacheHits (Count).\n"
        "# TYPE rdsbox_cache_hits gauge\n"
        'rdsbox_cache_hits{source="app-redis-cluster-001"} 12.5 1700000001000\n'
        'rdsbox_cache_hits{source="we\\"ird\\\\"} 1.0 1700000000000\n'
        "# HELP rdsbox_client_connections CloudWatch metric ClientConnections (Count).\n"
        "# TYPE rdsbox_client_connections gauge\n"
        'rdsbox_client_connections{source="app-db-proxy"} 4.0 1700000000000\n'
    )
    assert to_prometheus([]) == ""


def test_an_hour_of_one_second_samples_downsamples_fast(tmp_path: Path) -> None:
    start = NOW - NOW % 60  # buckets are aligned to multiples of their width
    store = MetricsStore(tmp_path / "metrics.db")
    sources = [f"node-{i}" for i in range(10)]
    metrics = ["CPUUtilization", "DatabaseConnections"]
    store.write(
        Sample(start + t, source, metric, float(t % 60))
        for t in range(3600)
        for source in sources
        for metric in metrics
    )
    began = time.perf_counter()
    buckets = store.series("CPUUtilization", "node-7", since=start, bucket_s=60)
    took = time.perf_counter() - began
    assert len(buckets) == 60 and took < 0.5  # a dashboard page has 2 s for several charts
    assert buckets[0].count == 60 and buckets[0].max == 59.0 and buckets[0].avg == 29.5
    assert buckets[1].ts == buckets[0].ts + 60
    latest = store.latest(since=start, metrics=["DatabaseConnections"], sources=["node-3"])
    assert latest == [Sample(start + 3599, "node-3", "DatabaseConnections", 59.0)]
    rows, last = store.tail(0, metrics=["CPUUtilization"], sources=["node-1"])
    assert len(rows) == 3600
    store.write([Sample(start - 5, "node-1", "CPUUtilization", 1.0)])  # a late writer
    assert store.tail(last, sources=["node-1"])[0] == [
        Sample(start - 5, "node-1", "CPUUtilization", 1.0)
    ]
    assert store.prune(start + 1800) == 1800 * 20 + 1
    store.close()


def rdsbox(capsys: pytest.CaptureFixture[str], state_dir: Path, *args: str) -> tuple[int, str, str]:
    """Run `rdsbox metrics ARGS` in this process: (exit status, stdout, stderr)."""
    argv = ["rdsbox", "--state-dir", str(state_dir), "metrics", *args]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as exited:
            main()
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_cli_reports_a_stopped_sandbox_and_bad_options_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = rdsbox(capsys, tmp_path / "nothing")
    assert code == 2
    assert err.startswith("rdsbox: error: no sandbox is running in ")
    assert err.count("\n") == 1
    for args, start in [
        (["--metric", "Nope"], "--metric 'Nope': unknown metric"),
        (["--format", "xml"], "--format 'xml': unknown format"),
        (["--since", "soon"], "--since 'soon': not a time"),
    ]:
        code, _, err = rdsbox(capsys, tmp_path, *args)
        assert (code, err.count("\n")) == (2, 1), err
        assert err.startswith(f"rdsbox: error: {start}")


def test_cli_shows_stored_samples_of_a_stopped_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    store = MetricsStore(tmp_path / "metrics.db")
    store.write([Sample(now - 30, "load", "Requests", 5), Sample(now - 600, "load", "Errors", 1)])
    store.close()
    code, out, err = rdsbox(capsys, tmp_path, "--since", "1m", "--format", "csv")
    assert code == 0, err
    assert "not running" in err
    assert out.splitlines()[1].endswith(",load,Requests,5.0,Count")
    assert len(out.splitlines()) == 2  # the older sample is outside the window
