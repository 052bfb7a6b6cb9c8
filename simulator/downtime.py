"""Failover downtime as the sandbox shows it: seconds from a fault to the first successful
commit of a write issued after the fault took effect (the simulator's ``downtime_s``).

A :class:`WriteProbe` writes one row over and over through one endpoint (a kept
connection, reopened after an error, as a pooled client would). The fault's own call
takes a moment to reach the server, so a success counts only once a failure has been seen
(or the fault call has returned): writes that beat the fault are not recoveries.
"""

from __future__ import annotations

import contextlib
import threading
import time

import psycopg

from sandbox.workload.endpoints import Endpoints
from sandbox.workload.spec import Path

_PROBE_SQL = b"UPDATE users SET updated_at = now() WHERE id = 1"
_INTERVAL_S = 0.02


class WriteProbe:
    """Writes through ``path`` in a thread until the first commit after the fault."""

    def __init__(self, endpoints: Endpoints, path: Path, limit_s: float = 120.0) -> None:
        self.endpoints = endpoints
        self.path = path
        self.limit_s = limit_s
        self.started = 0.0
        self.recovered: float | None = None
        self.failed = threading.Event()
        self._fault_done_at = float("inf")
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start probing; call right before the fault is applied."""
        self.started = time.monotonic()
        self._thread.start()

    def fault_done(self) -> None:
        """The fault call returned: from now on a success is a recovery even when no
        failure was seen (the failover was quicker than the probe's interval)."""
        self._fault_done_at = time.monotonic()

    def result(self) -> float | None:
        """Wait for the recovery; its downtime in seconds (``None``: none within the limit)."""
        self._thread.join(self.limit_s + 5)
        return None if self.recovered is None else self.recovered - self.started

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        deadline = self.started + self.limit_s
        try:
            while time.monotonic() < deadline:
                issued = time.monotonic()
                try:
                    if conn is None:
                        conn = self.endpoints.connect_db(self.path, timeout=2.0)
                    conn.execute(_PROBE_SQL)
                except psycopg.Error:
                    self.failed.set()
                    _close(conn)
                    conn = None
                else:
                    # A write that started before the fault had any effect is no recovery.
                    if self.failed.is_set() or issued >= self._fault_done_at:
                        self.recovered = time.monotonic()
                        return
                time.sleep(_INTERVAL_S)
        finally:
            _close(conn)


def _close(conn: psycopg.Connection | None) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()
