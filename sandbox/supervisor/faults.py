"""Fault injection, like AWS FIS actions: one implementation behind `rdsbox fault` and the
control API. Every fault with a duration undoes itself; ``clear`` (and ``down``) undo all.

Implemented: ``kill NAME`` (SIGKILL crash), ``stop NAME`` / ``start NAME``, ``hang NAME
--for S`` (SIGSTOP, then SIGCONT), ``db-failover`` (planned, like a reboot with failover),
``cache-failover`` (SENTINEL FAILOVER), ``reset ENDPOINT`` (drop its connections), ``clear``.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Any

from sandbox.errors import UnknownNameError
from sandbox.process import PidRecord, signal_tree
from sandbox.services.base import ManagedServer
from sandbox.supervisor.cluster import Cluster
from sandbox.supervisor.events import EventLog
from sandbox.supervisor.ha import HighAvailability

ENDPOINTS = ("writer", "reader", "proxy", "cache_primary", "cache_reader")
FAULTS = ("kill", "stop", "start", "hang", "db-failover", "cache-failover", "reset", "clear")


class Faults:
    """Applies faults; remembers what must be undone."""

    def __init__(
        self, cluster: Cluster, ha: HighAvailability, events: EventLog, lock: threading.RLock
    ) -> None:
        self.cluster = cluster
        self.ha = ha
        self.events = events
        self.lock = lock
        self._timers: list[threading.Timer] = []
        self._hung: set[str] = set()

    # -- dispatch ------------------------------------------------------------------------
    def apply(self, fault: str, target: str | None = None, seconds: float | None = None) -> str:
        """Apply ``fault`` to ``target``; return what was done (one sentence)."""
        handlers: dict[str, Callable[[], str]] = {
            "kill": lambda: self.kill(self._component(target)),
            "stop": lambda: self.stop(self._component(target)),
            "start": lambda: self.start(self._component(target)),
            "hang": lambda: self.hang(self._component(target), seconds),
            "db-failover": self.db_failover,
            "cache-failover": self.cache_failover,
            "reset": lambda: self.reset(self._endpoint(target)),
            "clear": self.clear,
        }
        if fault not in handlers:
            raise UnknownNameError(f"unknown fault '{fault}'; use one of {', '.join(FAULTS)}")
        with self.lock:
            return handlers[fault]()

    def _component(self, name: str | None) -> ManagedServer:
        servers = {s.name: s for s in self.cluster.components()}
        if name not in servers:
            raise UnknownNameError(f"unknown component '{name}'; use one of {', '.join(servers)}")
        return servers[name]

    @staticmethod
    def _endpoint(name: str | None) -> str:
        if name not in ENDPOINTS:
            raise UnknownNameError(f"unknown endpoint '{name}'; use one of {', '.join(ENDPOINTS)}")
        return name

    def _later(self, seconds: float, undo: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, lambda: self._undo(undo))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _undo(self, undo: Callable[[], None]) -> None:
        with self.lock:
            undo()

    # -- the faults ------------------------------------------------------------------------
    def kill(self, server: ManagedServer) -> str:
        """SIGKILL the component's process group: a crash the control plane recovers."""
        server.kill()
        self.events.record(server.name, "fault", f"{server.kind} crashed (fault: kill).")
        return f"killed {server.name}"

    def stop(self, server: ManagedServer) -> str:
        """Stop a component and keep it stopped until `start` or `clear`."""
        self.ha.memory.held.add(server.name)
        server.stop(self.cluster.timing.shutdown_timeout_s)
        self.events.record(server.name, "fault", f"{server.kind} stopped (fault: stop).")
        return f"stopped {server.name}; `rdsbox fault start {server.name}` starts it"

    def start(self, server: ManagedServer) -> str:
        """Release a stopped component: the control loop restarts or rejoins it."""
        self.ha.memory.held.discard(server.name)
        self.events.record(server.name, "fault", f"{server.kind} released (fault: start).")
        return f"{server.name} released; the control loop brings it back"

    def hang(self, server: ManagedServer, seconds: float | None) -> str:
        """SIGSTOP the component (it stops answering but keeps its sockets), SIGCONT later."""
        if seconds is None or seconds <= 0:
            raise UnknownNameError("hang needs --for SECONDS (a positive number)")
        record = PidRecord.read(server.pid_path)
        if record is None or not signal_tree(record, signal.SIGSTOP):
            raise UnknownNameError(f"{server.name} is not running; nothing to hang")
        self._hung.add(server.name)
        self.events.record(server.name, "fault", f"{server.kind} hung for {seconds:g} s.")
        self._later(seconds, lambda: self._resume(server))
        return f"hung {server.name} for {seconds:g} s"

    def _resume(self, server: ManagedServer) -> None:
        record = PidRecord.read(server.pid_path)
        if record is not None:
            signal_tree(record, signal.SIGCONT)
        if server.name in self._hung:
            self._hung.discard(server.name)
            self.events.record(server.name, "fault", f"{server.kind} resumed.")

    def db_failover(self) -> str:
        """A planned failover (RDS reboot with failover): stop the primary cleanly and let
        the control loop promote the standby."""
        cluster = self.cluster
        if cluster.standby is None:
            raise UnknownNameError("db-failover needs a Multi-AZ instance (database.multi_az)")
        primary = cluster.primary
        self.events.record(
            cluster.config.database.identifier, "failover", "Reboot with failover requested."
        )
        primary.stop(cluster.timing.shutdown_timeout_s)
        return f"stopped primary {primary.name}; the standby is being promoted"

    def cache_failover(self) -> str:
        """Ask a Sentinel to fail the replication group over (like TestFailover)."""
        cluster = self.cluster
        group = cluster.config.cache.replication_group_id
        for sentinel in cluster.sentinels.values():
            with contextlib.suppress(Exception):
                sentinel.client().execute_command(  # type: ignore[no-untyped-call]
                    "SENTINEL", "FAILOVER", group
                )
                self.events.record(group, "failover", "Test failover of the primary started.")
                return f"failover of {group} started by {sentinel.name}"
        raise UnknownNameError("cache-failover needs automatic_failover_enabled and Sentinels")

    def reset(self, endpoint: str) -> str:
        """Drop every connection through an endpoint (clients see a reset)."""
        cluster = self.cluster
        if endpoint == "proxy":
            if cluster.proxy is None:
                raise UnknownNameError("this sandbox has no proxy")
            cluster.proxy.admin("RECONNECT")
        else:
            cluster.router.reset(endpoint)
        self.events.record(endpoint, "fault", "All connections reset.")
        return f"reset the connections of {endpoint}"

    def clear(self) -> str:
        """Undo every fault now: resume hung components, release stopped ones."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        servers = {s.name: s for s in self.cluster.components()}
        for name in list(self._hung):
            self._resume(servers[name])
        released = sorted(self.ha.memory.held)
        self.ha.memory.held.clear()
        self.events.record("sandbox", "fault", "All faults cleared.")
        return "cleared all faults" + (f"; released {', '.join(released)}" if released else "")

    def describe(self) -> dict[str, Any]:
        """Active faults, for status."""
        return {"hung": sorted(self._hung), "stopped": sorted(self.ha.memory.held)}
