"""SQLite store of metric samples (``metrics.db`` in the state dir).

One table, one row per sample, indexed by time. Writers (the supervisor's collector and the
load generator's workers) each open their own connection; WAL mode lets the dashboard read
while they write. A full disk is reported as ``MetricsStoreError`` so the caller can pause
collection instead of crashing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.errors import RdsboxError
from sandbox.metrics.schema import Sample

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    ts REAL NOT NULL, source TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_time ON samples (ts);
CREATE INDEX IF NOT EXISTS samples_by_series ON samples (metric, source, ts);
"""


class MetricsStoreError(RdsboxError):
    """The metrics store cannot be written (disk full, unreadable file)."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """One time bucket of a series: its start, and the samples' mean, max and count."""

    ts: float
    avg: float
    max: float
    count: int
    #: The series the bucket belongs to (a query may ask for several at once).
    source: str = ""
    metric: str = ""


class MetricsStore:
    """Appends and queries samples; one instance per thread or process."""

    def __init__(self, path: Path, timeout: float = 5.0, shared: bool = False) -> None:
        """Open (and create when missing) the store at ``path``, waiting up to ``timeout``
        seconds for a lock. ``shared``: threads may share this instance when the caller
        serialises their calls (the dashboard's reader does, under a lock)."""
        self.path = path
        try:
            self._db = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=not shared
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise MetricsStoreError(f"cannot open the metrics store {path}: {exc}") from exc

    def write(self, samples: Iterable[Sample]) -> int:
        """Append samples in one transaction; return how many were written."""
        rows = [(s.ts, s.source, s.metric, float(s.value)) for s in samples]
        if not rows:
            return 0
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT INTO samples VALUES (?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            raise MetricsStoreError(
                f"cannot write the metrics store {self.path}: {exc}; free disk space"
            ) from exc
        return len(rows)

    def query(
        self,
        since: float | None = None,
        until: float | None = None,
        metrics: Sequence[str] = (),
        sources: Sequence[str] = (),
    ) -> list[Sample]:
        """Samples in ``[since, until)`` (all when unset), optionally only some metrics or
        sources, in time order."""
        where, args = _window(since, until, metrics, sources)
        sql = f"SELECT ts, source, metric, value FROM samples WHERE {where} ORDER BY ts"
        return [Sample(*row) for row in self._read(sql, args)]

    def series(
        self,
        metric: str | Sequence[str],
        source: str | Sequence[str],
        since: float,
        bucket_s: float,
        until: float | None = None,
    ) -> list[Bucket]:
        """Series downsampled in SQL: per ``bucket_s`` bucket (aligned to multiples of
        ``bucket_s`` since the epoch) the mean, max and count of each series, in time order.
        ``metric`` and ``source`` each name one or several (no sources: every source), so
        one query serves a chart of many series. An hour of one-second samples comes back
        as a few hundred rows per series for a chart."""
        if bucket_s <= 0:
            raise ValueError("bucket_s must be > 0")
        metrics = [metric] if isinstance(metric, str) else list(metric)
        sources = [source] if isinstance(source, str) else list(source)
        if not metrics:
            return []
        where, args = _window(since, _END if until is None else until, metrics, sources)
        sql = (
            "SELECT CAST(ts / ? AS INTEGER) AS b, source, metric, avg(value), max(value), "
            f"count(*) FROM samples WHERE {where} GROUP BY b, source, metric ORDER BY b"
        )
        return [
            Bucket(float(b * bucket_s), avg, peak, n, src, name)
            for b, src, name, avg, peak, n in self._read(sql, [bucket_s, *args])
        ]

    def latest_ts(self) -> float | None:
        """Time of the newest sample (None when the store is empty)."""
        (newest,) = self._read("SELECT max(ts) FROM samples", [])[0]
        return None if newest is None else float(newest)

    def latest(
        self,
        since: float | None = None,
        until: float | None = None,
        metrics: Sequence[str] = (),
        sources: Sequence[str] = (),
    ) -> list[Sample]:
        """The newest sample of every (source, metric) series in the window, sorted by
        source and metric."""
        where, args = _window(since, until, metrics, sources)
        sql = (
            "SELECT max(ts), source, metric, value FROM samples "  # SQLite: value of max's row
            f"WHERE {where} GROUP BY source, metric ORDER BY source, metric"
        )
        return [Sample(*row) for row in self._read(sql, args)]

    def tail(
        self, after_row: int, metrics: Sequence[str] = (), sources: Sequence[str] = ()
    ) -> tuple[list[Sample], int]:
        """Samples appended after row ``after_row`` (0: all), in insertion order, and the
        last row seen: the next call's ``after_row``. Late writers (a sample stamped a
        while ago) are not missed, unlike with a time window."""
        top = max(after_row, self.last_row())  # first: rows appended meanwhile wait
        where, args = _window(None, None, metrics, sources)
        sql = (
            "SELECT ts, source, metric, value FROM samples "
            f"WHERE rowid > ? AND rowid <= ? AND {where} ORDER BY rowid"
        )
        return [Sample(*row) for row in self._read(sql, [after_row, top, *args])], top

    def last_row(self) -> int:
        """The newest row's number (0 when empty)."""
        return int(self._read("SELECT coalesce(max(rowid), 0) FROM samples", [])[0][0])

    def prune(self, before: float) -> int:
        """Delete samples older than ``before``; return how many went."""
        try:
            with self._db:
                self._db.execute("BEGIN")
                deleted = self._db.execute("DELETE FROM samples WHERE ts < ?", (before,))
        except sqlite3.Error as exc:
            raise MetricsStoreError(f"cannot prune the metrics store {self.path}: {exc}") from exc
        return deleted.rowcount

    def _read(self, sql: str, args: Sequence[object]) -> list[Any]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise MetricsStoreError(f"cannot read the metrics store {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


_END = float("inf")


def _window(
    since: float | None, until: float | None, metrics: Sequence[str], sources: Sequence[str]
) -> tuple[str, list[object]]:
    """WHERE clause (and its arguments) of a time window and optional name filters."""
    where, args = ["1=1"], list[object]()
    if since is not None:
        where.append("ts >= ?")
        args.append(since)
    if until is not None:
        where.append("ts < ?")
        args.append(until)
    for column, values in (("metric", metrics), ("source", sources)):
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            args.extend(values)
    return " AND ".join(where), args
