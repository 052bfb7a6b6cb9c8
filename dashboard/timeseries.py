"""Reading the metrics store for charts: many series at once, downsampled in SQL.

One query per chart group (:meth:`MetricsStore.series`), averaged over time buckets sized
so that any window comes back as about :data:`POINTS` points per series: an hour of
one-second samples of every component is a few hundred rows per series, not 3600.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sandbox.metrics.store import Bucket, MetricsStore, MetricsStoreError

#: Points per series a chart gets, whatever the window.
POINTS = 300


def bucket_seconds(window_s: float, points: int = POINTS) -> float:
    """Bucket width for ``window_s`` seconds at about ``points`` points (at least 1 s)."""
    return float(max(1, math.ceil(window_s / points)))


class MetricsReader:
    """Read-only use of one ``metrics.db`` for charts; safe to share between Streamlit
    sessions (one :class:`MetricsStore`, used under a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store: MetricsStore | None = None
        self._lock = threading.Lock()

    def _opened(self) -> MetricsStore | None:
        if self._store is None and self.path.exists():  # never create the store: the writers do
            try:
                self._store = MetricsStore(self.path, timeout=2.0, shared=True)
            except MetricsStoreError:  # locked while a writer creates it: next time
                return None
        return self._store

    def latest_ts(self) -> float | None:
        """Time of the newest sample, or None for an empty or missing store."""
        with self._lock:
            store = self._opened()
            if store is None:
                return None
            try:
                return store.latest_ts()
            except MetricsStoreError:
                return None

    def series(
        self,
        metrics: Sequence[str],
        since: float,
        until: float,
        bucket_s: float,
        sources: Sequence[str] = (),
    ) -> pd.DataFrame:
        """Bucket means of ``metrics`` (of ``sources``, or every source) in ``[since, until)``
        (:meth:`MetricsStore.series`).

        Columns ``time`` (bucket start, UTC), ``source``, ``metric``, ``value``; empty
        (same columns) when there is nothing."""
        with self._lock:
            store = self._opened()
            buckets: list[Bucket] = []
            if store is not None:
                try:
                    buckets = store.series(metrics, sources, since, bucket_s, until)
                except MetricsStoreError:  # a store being created right now has no table yet
                    buckets = []
        frame = pd.DataFrame(
            [(b.ts, b.source, b.metric, b.avg) for b in buckets],
            columns=["time", "source", "metric", "value"],
        )
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        return frame

    def close(self) -> None:
        """Close the store."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def lines(frame: pd.DataFrame, by: str, names: dict[str, str] | None = None) -> pd.DataFrame:
    """Chart data: columns ``time``, ``line`` (the value of ``by``, ``source`` or
    ``metric``, renamed through ``names``) and ``value``; rows that share a time and a
    line (the same metric of several sources) are summed."""
    if frame.empty:
        return pd.DataFrame(columns=["time", "line", "value"])
    data = frame[["time", by, "value"]].rename(columns={by: "line"})
    if names:
        data["line"] = data["line"].replace(names)
    return data.groupby(["time", "line"], as_index=False, sort=False).agg({"value": "sum"})
