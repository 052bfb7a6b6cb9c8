"""SQLite store of metric samples (``metrics.db`` in the state dir).

One table, one row per sample, indexed by time. Writers (the supervisor's collector and the
load generator's workers) each open their own connection; WAL mode lets the dashboard read
while they write. A full disk is reported as ``MetricsStoreError`` so the caller can pause
collection instead of crashing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from sandbox.errors import RdsboxError
from sandbox.metrics.schema import Sample

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    ts REAL NOT NULL, source TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_time ON samples (ts);
"""


class MetricsStoreError(RdsboxError):
    """The metrics store cannot be written (disk full, unreadable file)."""


class MetricsStore:
    """Appends and queries samples; one instance per thread or process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None)
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
        sql = (
            f"SELECT ts, source, metric, value FROM samples WHERE {' AND '.join(where)} ORDER BY ts"
        )
        return [Sample(*row) for row in self._db.execute(sql, args)]

    def close(self) -> None:
        """Close the connection."""
        self._db.close()
