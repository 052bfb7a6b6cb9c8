"""High-availability decisions of the control loop: the emulated RDS and ElastiCache
control planes. One decision per cycle, in priority order; each returns its sentence.

* the primary failed (process gone at once; unresponsive for ``failure_detection_s``):
  Multi-AZ promotes the standby, single-AZ restarts the primary in place;
* the writer endpoint flips after ``dns_update_delay_s + dns_ttl_s``;
* replicas follow the new primary; a failed former primary rejoins as the standby
  (retried with back-off until it works); a streaming standby is made synchronous again;
* the cache endpoints follow the Sentinels' primary; crashed servers are restarted,
  except those a fault stopped on purpose.

Every restart and rejoin goes through :class:`~sandbox.supervisor.recovery.Recoveries`:
one that fails is retried after a growing pause, and reported once per kind of failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sandbox.errors import PortBusyError, UnknownNameError
from sandbox.services.base import HOST, ManagedServer
from sandbox.services.postgres import PostgresInstance
from sandbox.services.redis import RedisNode, Sentinel
from sandbox.supervisor.cluster import Cluster
from sandbox.supervisor.db_actions import DatabaseActions
from sandbox.supervisor.decision import Decision
from sandbox.supervisor.events import EventLog
from sandbox.supervisor.recovery import Recoveries
from sandbox.supervisor.snapshot import Snapshot
from sandbox.topology import port_is_free

#: Attempts to rejoin a replica that does not stream before leaving it be (its process
#: runs: a partition or a slow primary may be the cause, not its data).
MAX_REJOIN_ATTEMPTS = 3


@dataclass
class Memory:
    """What the loop remembers between cycles (the snapshot is all else)."""

    failing_since: dict[str, float] = field(default_factory=dict)
    writer_due: float | None = None
    rejoin_attempts: dict[str, int] = field(default_factory=dict)
    #: Components a fault stopped on purpose: never restarted behind the user's back.
    held: set[str] = field(default_factory=set)
    #: Why a component could not be restarted (shown by `rdsbox status`), by name.
    problems: dict[str, str] = field(default_factory=dict)
    #: When the last promotion happened (replicas follow and the old primary rejoins after
    #: their timing-profile delays from then).
    promoted_at: float = float("-inf")


class HighAvailability:
    """Decides failovers, flips, rejoins and restarts."""

    def __init__(
        self,
        cluster: Cluster,
        actions: DatabaseActions,
        events: EventLog,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cluster = cluster
        self.db = actions
        self.events = events
        self.clock = clock
        self.memory = Memory()
        self.recoveries = Recoveries(events, cluster.timing, clock, self.memory.problems)

    def failure(self, snapshot: Snapshot, name: str) -> str | None:
        """Why ``name`` counts as failed now, or None (updates the failing-since clock)."""
        timing = self.cluster.timing
        if snapshot.exited(name):
            reason, needed = "process exited", timing.crash_detection_s
        elif snapshot.healthy(name):
            self.memory.failing_since.pop(name, None)
            return None
        else:
            reason, needed = "not responding", timing.failure_detection_s
        since = self.memory.failing_since.setdefault(name, self.clock())
        return reason if self.clock() - since >= needed else None

    def decide(self, snapshot: Snapshot) -> Decision | None:
        """The HA decision this snapshot calls for, or None (routing decides then)."""
        failures = {c.name: self.failure(snapshot, c.name) for c in snapshot.components}
        for step in (
            self._primary,
            self._writer,
            self._followers,
            self._standby,
            self._cache,
            self._restarts,
        ):
            decision = step(snapshot, failures)
            if decision is not None:
                return decision
        return None

    # -- database ------------------------------------------------------------------------
    def _primary(self, snapshot: Snapshot, failures: dict[str, str | None]) -> Decision | None:
        cluster = self.cluster
        primary, standby = cluster.primary, cluster.standby
        reason = failures.get(primary.name)
        if reason is None:
            return None
        if standby is not None and snapshot.healthy(standby.name):
            return Decision(
                f"primary {primary.name} failed ({reason}): promoting standby {standby.name}",
                lambda: self._fail_over(reason),
            )
        recoveries = self.recoveries
        if not recoveries.due(primary.name):
            return None  # backing off after a failed restart; routing may still act
        failed = recoveries.failures(primary.name)
        return Decision(
            f"primary {primary.name} failed ({reason}): restarting it in place{_attempt(failed)}",
            lambda: recoveries.attempt(
                primary,
                "restarted",
                lambda: self.db.restart(primary, reason, announce=failed == 0),
            ),
        )

    def _fail_over(self, reason: str) -> None:
        old = self.cluster.primary.name
        self.db.fail_over(reason)
        timing = self.cluster.timing
        self.memory.writer_due = self.clock() + timing.dns_update_delay_s + timing.dns_ttl_s
        self._promoted(old)

    def _promoted(self, old: str) -> None:
        """Bookkeeping after a promotion: the old primary starts afresh as a follower."""
        self.memory.promoted_at = self.clock()
        self.memory.rejoin_attempts.pop(old, None)
        self.memory.failing_since.pop(old, None)
        self.recoveries.forget(old)

    def _settling(self, delay: float) -> bool:
        """Whether ``delay`` has not yet passed since the last promotion."""
        return self.clock() - self.memory.promoted_at < delay

    def promote_replica(self, name: str) -> str:
        """The manual promotion of a read replica (``rdsbox promote-replica``)."""
        cluster = self.cluster
        if cluster.standby is not None:
            raise UnknownNameError(
                "this instance is Multi-AZ: its standby takes over by itself; use "
                "`rdsbox fault db-failover` (promote-replica is for single-AZ instances)"
            )
        replicas = {node.name: node for node in cluster.read_replicas}
        if name not in replicas:
            valid = ", ".join(replicas) or "none: this sandbox has no read replicas"
            raise UnknownNameError(f"'{name}' is not a read replica; use one of {valid}")
        old = cluster.primary.name
        self.db.promote_replica(replicas[name])
        timing = cluster.timing
        self.memory.writer_due = self.clock() + timing.dns_update_delay_s + timing.dns_ttl_s
        self._promoted(old)
        return f"promoted {name}; {old} rejoins as a read replica"

    def _writer(self, snapshot: Snapshot, _: dict[str, str | None]) -> Decision | None:
        due = self.memory.writer_due
        primary = self.cluster.primary.name
        routed = set(dict(snapshot.routes).get("writer", ()))
        if due is not None and self.clock() < due:
            return None
        if due is None and routed == {primary}:
            return None
        self.memory.writer_due = None
        return Decision(f"writer endpoint flips to {primary}", self.db.flip_writer)

    def _followers(self, snapshot: Snapshot, failures: dict[str, str | None]) -> Decision | None:
        primary = self.cluster.primary
        if self._settling(self.cluster.timing.replica_repoint_delay_s):
            return None
        stale = [
            n
            for n in self.cluster.read_replicas
            if n.upstream_port != primary.port and failures.get(n.name) is None
        ]
        if stale:
            names = ", ".join(n.name for n in stale)
            return Decision(
                f"replicas {names} follow the new primary {primary.name}",
                lambda: self.db.repoint_followers(stale),
            )
        return self._lost_replica(snapshot, failures)

    def _lost_replica(self, snapshot: Snapshot, failures: dict[str, str | None]) -> Decision | None:
        """A running replica that does not stream from the primary for a while (it had
        replayed WAL past the promotion point of the new timeline) is rewound or re-cloned."""
        if not snapshot.healthy(self.cluster.primary.name):
            return None
        grace = max(2.0, self.cluster.timing.failure_detection_s * 3)
        for node in self.cluster.read_replicas:
            state = snapshot.replication_state(node.name)
            if failures.get(node.name) is not None or (state and state[0] == "streaming"):
                self.memory.failing_since.pop(f"stream:{node.name}", None)
                continue
            since = self.memory.failing_since.setdefault(f"stream:{node.name}", self.clock())
            attempts = self.memory.rejoin_attempts.get(node.name, 0)
            if (
                self.clock() - since < grace
                or attempts >= MAX_REJOIN_ATTEMPTS
                or not self.recoveries.due(node.name)
            ):
                continue
            self.memory.rejoin_attempts[node.name] = attempts + 1
            self.memory.failing_since.pop(f"stream:{node.name}", None)
            return Decision(
                f"replica {node.name} does not stream from {self.cluster.primary.name}: "
                f"rejoining it (attempt {attempts + 1} of {MAX_REJOIN_ATTEMPTS})",
                partial(self._rejoin, node, attempts + 1),
            )
        return None

    def _rejoin(self, node: PostgresInstance, attempt: int) -> None:
        self.recoveries.attempt(node, "rejoined", lambda: self.db.rejoin(node, attempt))

    def _standby(self, snapshot: Snapshot, failures: dict[str, str | None]) -> Decision | None:
        standby = self.cluster.standby
        if standby is None or standby.name in self.memory.held:
            return None
        if failures.get(standby.name) is not None:
            if self._settling(self.cluster.timing.rejoin_delay_s):
                return None
            if not self.recoveries.due(standby.name):
                return None  # backing off after a failed rejoin; routing may still act
            # Rewound on the first attempt of a streak, re-cloned after that.
            failed = self.recoveries.failures(standby.name)
            return Decision(
                f"standby {standby.name} is down: rejoining it to "
                f"{self.cluster.primary.name}{_attempt(failed)}",
                partial(self._rejoin, standby, failed + 1),
            )
        state = snapshot.replication_state(standby.name)
        if state is not None and state[0] == "streaming" and state[1] != "sync":
            return Decision(
                f"standby {standby.name} streams: making it synchronous",
                self.db.attach_sync_standby,
            )
        return None

    # -- cache ---------------------------------------------------------------------------
    def _cache(self, snapshot: Snapshot, failures: dict[str, str | None]) -> Decision | None:
        cluster = self.cluster
        current = cluster.cache_primary.name
        # Sentinel sends REPLICAOF NO ONE about a second before it publishes the new
        # primary (it waits for the replica's next INFO); the promoted node already says
        # role:master and takes writes, so follow it as soon as the old primary is down.
        promoted = [name for name in snapshot.redis_masters if name != current]
        if len(promoted) == 1 and failures.get(current) is not None:
            return Decision(
                f"{promoted[0]} was promoted by Sentinel: cache endpoints follow",
                lambda: self._follow_cache(promoted[0]),
            )
        views = snapshot.sentinel_views
        if not views:
            return None
        port = max(set(views), key=views.count)
        if views.count(port) * 2 <= len(views) or port == cluster.cache_primary.port:
            return None
        new = next((n for n in cluster.redis.values() if n.port == port), None)
        if new is None or new.name not in snapshot.redis_masters:
            return None  # Sentinels lag behind a failover we already followed
        return Decision(
            f"Sentinels switched the cache primary to {new.name}: endpoints follow",
            lambda: self._follow_cache(new.name),
        )

    def _follow_cache(self, new: str) -> None:
        cluster = self.cluster
        old = cluster.cache_primary.name
        cluster.set_cache_primary(new)
        cluster.router.route("cache_primary", {new}, reset_others=True)
        cluster.router.route("cache_reader", cluster.cache_reader_targets())
        self.events.record(
            cluster.config.cache.replication_group_id,
            "failover",
            f"Failover from primary node {old} to replica node {new} completed.",
        )

    # -- crashed servers -------------------------------------------------------------------
    def _restarts(self, snapshot: Snapshot, _: dict[str, str | None]) -> Decision | None:
        cluster = self.cluster
        for component in snapshot.components:
            if not snapshot.exited(component.name) or component.name in self.memory.held:
                continue
            server = next(s for s in cluster.components() if s.name == component.name)
            if server.kind == "postgres" and server.name == cluster.primary.name:
                continue  # the primary's own branch handles it
            if cluster.standby is not None and server.name == cluster.standby.name:
                continue  # rejoined by _standby, with pg_rewind
            if (
                server.kind == "redis"
                and server.name == cluster.cache_primary.name
                and cluster.sentinels
            ):
                continue  # Sentinel fails it over first; it then returns as a replica
            recoveries = self.recoveries
            if not recoveries.due(server.name):
                continue  # backing off after a failed restart
            return Decision(
                f"{server.name} ({server.kind}) exited: restarting it"
                f"{_attempt(recoveries.failures(server.name))}",
                partial(recoveries.attempt, server, "restarted", partial(self._restart, server)),
            )
        return None

    def _restart(self, server: ManagedServer) -> None:
        cluster = self.cluster
        if isinstance(server, RedisNode | Sentinel):
            primary = cluster.cache_primary
            # A crashed primary restarted without Sentinel must not become its own replica.
            server.primary_port = None if server is primary else primary.port
        server.kill()
        if not port_is_free(server.port):
            # Another program took the port while the server was down: say so and try
            # again later instead of starting a server doomed to fail.
            raise PortBusyError(
                f"port {server.port} on {HOST} is taken by another program; "
                f"{server.name} restarts once it is free"
            )
        server.start()
        if server is cluster.moto and cluster.secret_arn is not None:
            cluster.secret_arn = cluster.moto.put_secret(
                cluster.config.secret.name, cluster.secret_value()
            )
        self.events.record(server.name, "availability", f"{server.kind} restarted after a crash.")

    def problems(self) -> dict[str, str]:
        """Components that could not be restarted and why."""
        return dict(self.memory.problems)


def _attempt(failures: int) -> str:
    """The sentence's attempt note: nothing for a first attempt."""
    return f" (attempt {failures + 1})" if failures else ""
