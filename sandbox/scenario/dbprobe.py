"""The database's side of a scenario, read from PostgreSQL itself on every node (not
through the endpoints): sessions started (new backends), transactions, and the peak of
client connections, so that a storm's cost and a cache's saving are measured where they
happen. Its own connections are named ``rdsbox-scenario`` and not counted, nor are the
supervisor's (they use the ``postgres`` database)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg

from sandbox.services.base import HOST
from sandbox.workload.endpoints import Endpoints

APP_NAME = "rdsbox-scenario"
_COUNTERS_SQL = (
    "SELECT sessions, xact_commit + xact_rollback FROM pg_stat_database "
    "WHERE datname = current_database()"
)
# Connections still authenticating have no database yet: they hold a slot all the same
# (with SCRAM, a storm's slots are mostly taken by handshakes), so they count.
_CONNECTIONS_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
    "AND (datname IS NULL OR datname = current_database()) "
    "AND coalesce(application_name, '') <> %s"
)
Counters = dict[str, tuple[int, int]]


class DbProbe:
    """Connections to every PostgreSQL node; counters on demand, connections sampled."""

    def __init__(
        self,
        status: Callable[[], Mapping[str, Any]],
        env: Callable[[], Mapping[str, str]],
        interval: float = 0.1,
    ) -> None:
        self._status = status
        self._env = env
        self.interval = interval
        self._conns: dict[str, psycopg.Connection] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak = 0
        self.series: list[tuple[float, int]] = []

    # -- connections ---------------------------------------------------------------------
    def _nodes(self) -> dict[str, int]:
        try:
            components = self._status().get("components", [])
        except Exception:
            return {}
        return {str(c["name"]): int(c["port"]) for c in components if c.get("kind") == "postgres"}

    def _connect(self, port: int) -> psycopg.Connection:
        endpoints = Endpoints.from_env(self._env())
        return psycopg.connect(
            host=HOST,
            port=port,
            user=endpoints.db_user,
            password=endpoints.db_password,
            dbname=endpoints.db_name,
            application_name=APP_NAME,
            autocommit=True,
            connect_timeout=2,
        )

    def _each(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, tuple[Any, ...]]:
        """Run ``sql`` on every reachable node; (re)connect where needed."""
        rows: dict[str, tuple[Any, ...]] = {}
        with self._lock:
            for name, port in self._nodes().items():
                conn = self._conns.get(name)
                try:
                    if conn is None or conn.closed:
                        conn = self._conns[name] = self._connect(port)
                    row = conn.execute(sql.encode(), args).fetchone()
                except Exception:
                    stale = self._conns.pop(name, None)
                    if stale is not None:
                        with contextlib.suppress(Exception):
                            stale.close()
                    continue
                if row is not None:
                    rows[name] = tuple(row)
        return rows

    # -- readings ------------------------------------------------------------------------
    def counters(self) -> Counters:
        """``node -> (sessions, transactions)`` of the application database."""
        return {n: (int(r[0]), int(r[1])) for n, r in self._each(_COUNTERS_SQL).items()}

    def connections(self) -> int:
        """Client connections to the application database over all nodes (not ours)."""
        return sum(int(r[0]) for r in self._each(_CONNECTIONS_SQL, (APP_NAME,)).values())

    def start_sampling(self) -> None:
        """Sample :meth:`connections` every ``interval`` until :meth:`close`."""
        self._thread = threading.Thread(target=self._sample, name="scenario-db", daemon=True)
        self._thread.start()

    def reset_peak(self) -> int:
        """The peak since the last call (and start a new one)."""
        peak, self.peak = self.peak, 0
        return peak

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            value = self.connections()
            self.peak = max(self.peak, value)
            self.series.append((time.time(), value))

    def close(self) -> None:
        """Stop sampling; close the connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        with self._lock:
            for conn in self._conns.values():
                with contextlib.suppress(Exception):
                    conn.close()
            self._conns.clear()


def counter_deltas(before: Counters, after: Counters) -> dict[str, float | None]:
    """``db.new_backends`` and ``db.transactions`` between two readings, over the nodes read
    both times (None when no node was; a node that restarted, whose counters went back, is
    left out)."""
    sessions = transactions = 0
    seen = False
    for node, (s1, t1) in after.items():
        if node not in before:
            continue
        s0, t0 = before[node]
        if s1 < s0 or t1 < t0:
            continue
        seen = True
        sessions += s1 - s0
        transactions += t1 - t0
    if not seen:
        return {"db.new_backends": None, "db.transactions": None}
    return {"db.new_backends": float(sessions), "db.transactions": float(transactions)}
