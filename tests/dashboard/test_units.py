"""The dashboard's pure parts: the diagram, the downsampling reader, the chart data, the
default port and the CLI's one-line errors."""

from __future__ import annotations

import copy
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dashboard.diagram import FAULTED, PRIMARY, primaries, topology_dot
from dashboard.timeseries import MetricsReader, bucket_seconds, lines
from dashboard.widgets import with_gaps
from sandbox.cli.app import Options
from sandbox.cli.dashboard import default_port
from sandbox.metrics.schema import Sample
from sandbox.metrics.store import MetricsStore
from tests.support import RDSBOX


def _component(name: str, kind: str, role: str, port: int) -> dict[str, Any]:
    return {"name": name, "kind": kind, "role": role, "port": port, "healthy": True}


STATUS: dict[str, Any] = {
    "components": [
        _component("db-a", "postgres", "primary", 10),
        _component("db-b", "postgres", "standby", 11),
        _component("db-replica-0", "postgres", "replica", 12),
        _component("proxy", "pgbouncer", "proxy", 3),
        _component("cache-001", "redis", "primary", 30),
        _component("cache-002", "redis", "replica", 31),
        _component("sentinel-1", "sentinel", "sentinel", 40),
        _component("secrets-manager", "moto", "secrets", 6),
    ],
    "endpoints": {"writer": {"port": 1}, "reader": {"port": 2}},
    "endpoint_router": {"routes": {"writer": ["db-a"], "reader": ["db-replica-0"]}},
    "faults": {"hung": [], "stopped": [], "lagging": [], "network": {}},
}


def _line(dot: str, start: str) -> str:
    return next(line for line in dot.splitlines() if line.strip().startswith(start))


def test_the_diagram_follows_a_failover() -> None:
    before = topology_dot(STATUS)
    assert "bold" in _line(before, '"db-a" [') and PRIMARY in _line(before, '"db-a" [')
    assert '"writer" -> "db-a"' in before and '"proxy" -> "db-a"' in before
    assert '"db-a" -> "db-b" [label="sync"' in before
    assert '"db-a" -> "db-replica-0" [label="async"' in before

    after = copy.deepcopy(STATUS)
    roles = {"db-a": "standby", "db-b": "primary"}
    for component in after["components"]:
        component["role"] = roles.get(component["name"], component["role"])
    after["endpoint_router"]["routes"]["writer"] = ["db-b"]
    dot = topology_dot(after)
    assert primaries(after) == ("db-b", "cache-001")
    assert "bold" in _line(dot, '"db-b" [') and "bold" not in _line(dot, '"db-a" [')
    assert '"writer" -> "db-b"' in dot and '"proxy" -> "db-b"' in dot
    assert '"db-b" -> "db-a" [label="sync"' in dot


def test_the_diagram_marks_faults_and_failures() -> None:
    status = copy.deepcopy(STATUS)
    status["faults"]["hung"] = ["db-replica-0"]
    status["faults"]["network"] = {"reader": {"latency_ms": 50}}
    status["components"][5]["healthy"] = False
    dot = topology_dot(status, "load: 200 req/s")
    assert FAULTED in _line(dot, '"db-replica-0" [') and "(fault)" in dot
    assert FAULTED in _line(dot, '"reader" [')
    assert "DOWN" in _line(dot, '"cache-002" [')
    assert "application\\nload: 200 req/s" in dot


def test_the_reader_downsamples_an_hour_in_sql(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    reader = MetricsReader(path)
    assert reader.series(["Requests"], 0, 10, 1).empty
    assert reader.latest_ts() is None and not path.exists()  # never creates the store
    store = MetricsStore(path)
    start = 1_800_000_000.0
    store.write(Sample(start + t, "load", "Requests", float(t % 12)) for t in range(3600))
    store.write(Sample(start + t, "other", "Requests", 1.0) for t in range(3600))
    store.close()
    bucket = bucket_seconds(3600)
    frame = reader.series(["Requests"], start, start + 3600, bucket, sources=["load"])
    assert bucket == 12 and len(frame) == 300
    assert set(frame["value"]) == {5.5}  # mean of 0..11 in every bucket
    assert frame["time"].iloc[0] == pd.Timestamp(start, unit="s", tz="UTC")
    assert reader.latest_ts() == start + 3599
    both = lines(reader.series(["Requests"], start, start + 3600, bucket), "metric")
    assert len(both) == 300 and set(both["value"]) == {6.5}  # summed over the two sources
    reader.close()


def test_default_port_is_the_topologys_dashboard_port(tmp_path: Path) -> None:
    state = tmp_path / "s"
    assert default_port(Options(str(state), None, 30900)) == 30907
    config = tmp_path / "rdsbox.yaml"
    config.write_text("port_base: 21000\n")
    assert default_port(Options(str(state), config, None)) == 21007
    state.mkdir()
    (state / "config.json").write_text('{"port_base": 22000}')
    assert default_port(Options(str(state), None, None)) == 22007  # the sandbox's own


def test_a_busy_port_is_one_line_and_exit_2(tmp_path: Path, port_bases: Iterator[int]) -> None:
    port = next(port_bases) + 7
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        done = subprocess.run(
            [RDSBOX, "--state-dir", str(tmp_path / "s"), "dashboard", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"rdsbox: error: port {port} on 127.0.0.1 is in use (another dashboard?); "
        "pick one with --port N"
    ]


@pytest.mark.parametrize("port", ["40000"])
def test_a_port_out_of_range_is_refused(tmp_path: Path, port: str) -> None:
    done = subprocess.run(
        [RDSBOX, "--state-dir", str(tmp_path / "s"), "dashboard", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "--port" in done.stderr


def test_charts_break_where_samples_are_missing() -> None:
    stamps = pd.to_datetime([0, 1, 2, 10, 11], unit="s", utc=True)
    data = pd.DataFrame({"time": stamps, "line": "requests", "value": [1.0, 2, 3, 4, 5]})
    filled = with_gaps(data, "time")
    assert len(filled) == 12 and filled["value"].isna().sum() == 7  # seconds 3..9
    assert filled["value"].dropna().tolist() == [1.0, 2, 3, 4, 5]
