"""Fault injection, like AWS FIS actions: one implementation behind `rdsbox fault` and the
control API. Every fault with a duration undoes itself; ``clear`` (and ``down``) undo all.

Faults: ``kill NAME`` (SIGKILL crash), ``stop NAME`` / ``start NAME``, ``hang NAME --for S``
(SIGSTOP, then SIGCONT), ``replica-lag NAME --for S`` (WAL replay paused), ``latency
ENDPOINT --ms N [--jitter N] [--for S]`` and ``blackhole ENDPOINT [--for S]`` (see
net_faults), ``reset ENDPOINT`` (drop its connections), ``db-failover`` (planned, like a
reboot with failover), ``cache-failover`` (SENTINEL FAILOVER), ``rotate-secret`` (see
rotation), ``clear``.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.errors import UnknownNameError
from sandbox.process import PidRecord, signal_tree
from sandbox.services.base import ManagedServer
from sandbox.services.postgres import PostgresInstance
from sandbox.supervisor.cluster import Cluster
from sandbox.supervisor.events import EventLog
from sandbox.supervisor.ha import HighAvailability
from sandbox.supervisor.net_faults import NetworkFaults
from sandbox.supervisor.netgate import Impairment
from sandbox.supervisor.rotation import SecretRotation
from sandbox.topology import CLIENT_ENDPOINTS

FAULTS = (
    "kill",
    "stop",
    "start",
    "hang",
    "replica-lag",
    "latency",
    "blackhole",
    "reset",
    "db-failover",
    "cache-failover",
    "rotate-secret",
    "clear",
)


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
        self._lagging: set[str] = set()
        self.network = NetworkFaults(cluster, events)
        self.rotation = SecretRotation(cluster, ha.db, events)

    # -- dispatch ------------------------------------------------------------------------
    def apply(
        self,
        fault: str,
        target: str | None = None,
        seconds: float | None = None,
        options: Mapping[str, float] | None = None,
    ) -> str:
        """Apply ``fault`` to ``target``; return what was done (one sentence). ``options``
        are the fault's own settings (``ms`` and ``jitter`` of ``latency``)."""
        opts = dict(options or {})
        handlers: dict[str, Callable[[], str]] = {
            "kill": lambda: self.kill(self._component(target)),
            "stop": lambda: self.stop(self._component(target)),
            "start": lambda: self.start(self._component(target)),
            "hang": lambda: self.hang(self._component(target), _duration(seconds, "hang")),
            "replica-lag": lambda: self.replica_lag(
                self._replica(target), _duration(seconds, "replica-lag")
            ),
            "latency": lambda: self.latency(self._endpoint(target), opts, seconds),
            "blackhole": lambda: self.blackhole(self._endpoint(target), seconds),
            "reset": lambda: self.reset(self._endpoint(target)),
            "db-failover": self.db_failover,
            "cache-failover": self.cache_failover,
            "rotate-secret": self.rotation.rotate,
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

    def _replica(self, name: str | None) -> PostgresInstance:
        replicas = {node.name: node for node in self.cluster.read_replicas}
        if name not in replicas:
            valid = ", ".join(replicas) or "none: this sandbox has no read replicas"
            raise UnknownNameError(f"'{name}' is not a read replica; use one of {valid}")
        return replicas[name]

    @staticmethod
    def _endpoint(name: str | None) -> str:
        if name not in CLIENT_ENDPOINTS:
            valid = ", ".join(CLIENT_ENDPOINTS)
            raise UnknownNameError(f"unknown endpoint '{name}'; use one of {valid}")
        return name

    def _later(self, seconds: float, undo: Callable[[], object]) -> None:
        timer = threading.Timer(seconds, lambda: self._undo(undo))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _undo(self, undo: Callable[[], object]) -> None:
        with self.lock:
            try:
                undo()
            except Exception as exc:  # a timer thread has nobody to raise to
                self.events.record("sandbox", "notification", f"Undoing a fault failed: {exc}")

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

    def hang(self, server: ManagedServer, seconds: float) -> str:
        """SIGSTOP the component (it stops answering but keeps its sockets), SIGCONT later."""
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

    def replica_lag(self, node: PostgresInstance, seconds: float) -> str:
        """Pause WAL replay on a read replica: it keeps receiving WAL but its data falls
        behind the primary until replay resumes."""
        with node.connect(dbname="postgres") as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        self._lagging.add(node.name)
        self.events.record(node.name, "fault", f"WAL replay paused for {seconds:g} s.")
        self._later(seconds, lambda: self._resume_replay(node))
        return f"paused WAL replay on {node.name} for {seconds:g} s"

    def _resume_replay(self, node: PostgresInstance) -> None:
        if node.name not in self._lagging:
            return
        self._lagging.discard(node.name)
        # A restarted replica replays anyway: nothing to resume then.
        with contextlib.suppress(Exception), node.connect(dbname="postgres") as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        self.events.record(node.name, "fault", "WAL replay resumed.")

    def latency(self, endpoint: str, options: Mapping[str, float], seconds: float | None) -> str:
        """Delay every response through ``endpoint`` by ``ms`` ± ``jitter`` milliseconds."""
        ms, jitter = options.get("ms"), options.get("jitter", 0.0)
        if ms is None or ms < 0 or jitter < 0:
            raise UnknownNameError("latency needs --ms N (milliseconds >= 0); --jitter >= 0")
        return self._impair(endpoint, Impairment(delay_ms=ms, jitter_ms=jitter), seconds)

    def blackhole(self, endpoint: str, seconds: float | None) -> str:
        """Accept connections to ``endpoint`` and never answer (a partition)."""
        return self._impair(endpoint, Impairment(blackhole=True), seconds)

    def _impair(self, endpoint: str, impairment: Impairment, seconds: float | None) -> str:
        if seconds is not None:
            _duration(seconds, "the fault")
        relay = self.network.impair(endpoint, impairment)
        if seconds is not None:
            self._later(seconds, lambda: self.network.restore(endpoint, relay))
        until = f" for {seconds:g} s" if seconds is not None else " until `rdsbox fault clear`"
        return f"{impairment.describe()} on {endpoint}{until}"

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
        for name in list(self._lagging):
            self._resume_replay(self.cluster.postgres[name])
        self.network.clear()
        released = sorted(self.ha.memory.held)
        self.ha.memory.held.clear()
        self.events.record("sandbox", "fault", "All faults cleared.")
        return "cleared all faults" + (f"; released {', '.join(released)}" if released else "")

    def describe(self) -> dict[str, Any]:
        """Active faults, for status."""
        return {
            "hung": sorted(self._hung),
            "stopped": sorted(self.ha.memory.held),
            "lagging": sorted(self._lagging),
            "network": self.network.describe(),
        }

    def close(self) -> None:
        """Undo everything and stop the relays (supervisor shutdown)."""
        self.clear()
        self.network.close()


def _duration(seconds: float | None, what: str) -> float:
    if seconds is None or seconds <= 0:
        raise UnknownNameError(f"{what} needs --for SECONDS (a positive number)")
    return seconds
