"""Reading the metrics store for charts: many series at once, downsampled in SQL.

One query per chart group, averaged over time buckets sized so that any window comes
back as about :data:`POINTS` points per series: an hour of one-second samples of every
component is a few hundred rows per series, not 3600. Kept small and separate so that a
downsampling query in ``sandbox.metrics.store`` can replace it.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

#: Points per series a chart gets, whatever the window.
POINTS = 300


def bucket_seconds(window_s: float, points: int = POINTS) -> float:
    """Bucket width for ``window_s`` seconds at about ``points`` points (at least 1 s)."""
    return float(max(1, math.ceil(window_s / points)))


class MetricsReader:
    """Read-only queries on one ``metrics.db``; safe to share between Streamlit sessions
    (one connection, used under a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None and self.path.exists():  # never create the store: the writers do
            # Not mode=ro: a read-only reader of a WAL database fails while its -shm file
            # is missing (no writer has it open); this connection only ever SELECTs.
            self._db = sqlite3.connect(self.path, timeout=2.0, check_same_thread=False)
        return self._db

    def latest_ts(self) -> float | None:
        """Time of the newest sample, or None for an empty or missing store."""
        with self._lock:
            db = self._connection()
            if db is None:
                return None
            try:
                row = db.execute("SELECT max(ts) FROM samples").fetchone()
            except sqlite3.Error:
                return None
        return None if row is None or row[0] is None else float(row[0])

    def series(
        self,
        metrics: Sequence[str],
        since: float,
        until: float,
        bucket_s: float,
        sources: Sequence[str] = (),
    ) -> pd.DataFrame:
        """Bucket means of ``metrics`` (of ``sources``, or every source) in ``[since, until)``.

        Columns ``time`` (bucket start, UTC), ``source``, ``metric``, ``value``; empty
        (same columns) when there is nothing."""
        where = [
            "ts >= ?",
            "ts < ?",
            f"metric IN ({','.join('?' * len(metrics))})",
        ]
        args: list[object] = [since, until, *metrics]
        if sources:
            where.append(f"source IN ({','.join('?' * len(sources))})")
            args.extend(sources)
        sql = (
            "SELECT CAST(ts / ? AS INTEGER) AS b, source, metric, avg(value) FROM samples "
            f"WHERE {' AND '.join(where)} GROUP BY b, source, metric ORDER BY b"
        )
        with self._lock:
            db = self._connection()
            rows: list[tuple[int, str, str, float]] = []
            if db is not None and metrics:
                try:
                    rows = db.execute(sql, [bucket_s, *args]).fetchall()
                except sqlite3.Error:  # a store being created right now has no table yet
                    rows = []
        frame = pd.DataFrame(rows, columns=["bucket", "source", "metric", "value"])
        frame["time"] = pd.to_datetime(frame["bucket"] * bucket_s, unit="s", utc=True)
        return frame.drop(columns="bucket")[["time", "source", "metric", "value"]]

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


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
