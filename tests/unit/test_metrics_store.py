"""The metrics store keeps samples and answers time-window queries."""

from __future__ import annotations

from pathlib import Path

from sandbox.metrics import MetricsStore, Sample


def test_store_round_trips_and_filters(tmp_path: Path) -> None:
    store = MetricsStore(tmp_path / "metrics.db")
    samples = [Sample(float(t), "load", "Requests", t * 10) for t in range(5)]
    samples.append(Sample(2.5, "app-db-proxy", "ClientConnections", 7))
    assert store.write(samples) == 6
    assert store.query(since=1, until=3, metrics=["Requests"]) == samples[1:3]
    assert store.query(sources=["app-db-proxy"])[0].unit == "Count"
    reader = MetricsStore(tmp_path / "metrics.db")  # a second connection sees the writes
    assert len(reader.query()) == 6
    store.close()
    reader.close()
