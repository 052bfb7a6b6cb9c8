"""Faults on a timeline, and the control plane's recovery, timed by the TimingProfile.

The same fields the sandbox's supervisor uses decide every delay, plus the calibrated
overheads the sandbox adds by doing real work (``promote_s``, ``restart_s``,
``cache_failover_s``). For a crash of the Multi-AZ primary at time T:

- T: the node dies; queries on it reset, its connections are gone; the proxy holds new
  borrows; the replicas lose their source (their lag grows).
- T + crash_detection_s (a hang: failure_detection_s): the failure is declared.
- P = T + detection + promotion_delay_s + promote_s: the standby is primary.
- P + proxy_detection_s: the proxy follows the new writer and releases held borrows.
- P + dns_update_delay_s + dns_ttl_s: direct clients resolve the writer to the new node;
  until then their connections to the dead node are refused.
- P + replica_repoint_delay_s: the replicas follow the new primary.
- P + rejoin_delay_s: the old primary is back as the synchronous standby (until then
  commits do not wait for a standby).

Without Multi-AZ the node restarts in place at T + crash_detection_s + restart_s.
A cache primary crash makes Redis unavailable for sentinel_down_after_s +
cache_failover_s (a replica is promoted, the keys survive); without automatic failover
the node restarts after crash_detection_s + restart_s with an empty cache.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.config import TimingProfile
from sandbox.errors import ConfigError
from sandbox.scenario.model import TimedFault
from simulator.calibration import Calibration
from simulator.clients import Application
from simulator.database import DbNode
from simulator.world import World

SUPPORTED_FAULTS = ("kill", "stop", "db-failover", "cache-failover", "hang", "latency")


class Failures:
    """Schedules faults and the recovery that follows them."""

    def __init__(self, world: World, app: Application) -> None:
        self.world = world
        self.app = app
        self.engine = world.engine
        self.timing = world.timing

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        self.engine.at(self.engine.now + delay, lambda _: action())

    def schedule(self, fault: TimedFault, start: float) -> None:
        """Apply ``fault`` at ``start + fault.at``.

        Raises:
            ConfigError: unknown fault or target (one line naming the allowed ones).
        """
        if fault.fault not in SUPPORTED_FAULTS:
            raise ConfigError(
                f"faults: {fault.fault!r} is not simulated; allowed: {', '.join(SUPPORTED_FAULTS)}"
            )
        target = fault.target or ("cache_primary" if fault.fault == "cache-failover" else "primary")
        self._check_target(target)
        self.engine.at(start + fault.at, lambda _: self._fire(fault, target))

    def _check_target(self, target: str) -> None:
        names = [node.name for node in self.world.nodes] + self.world.cache_nodes
        aliases = ["primary", "standby", "replica", "cache_primary", "writer"]
        if target not in names + aliases:
            raise ConfigError(
                f"faults: unknown target {target!r}; allowed: {', '.join(aliases + names)}"
            )

    def _resolve(self, target: str) -> DbNode | None:
        world = self.world
        if target in ("primary", "writer"):
            return world.primary
        if target == "standby":
            return world.standby
        if target == "replica":
            return world.replicas[0] if world.replicas else None
        return next((node for node in world.nodes if node.name == target), None)

    def _fire(self, fault: TimedFault, target: str) -> None:
        if target == "cache_primary" or target in self.world.cache_nodes:
            if target in ("cache_primary", self.world.cache_primary_name):
                self.cache_crash(planned=fault.fault == "cache-failover")
            return
        node = self._resolve(target)
        if node is None:
            return
        if fault.fault == "latency":
            extra = float(fault.options.get("ms", 100)) / 1000
            node.extra += extra
            self._later(fault.seconds or 10.0, lambda: setattr(node, "extra", node.extra - extra))
        elif fault.fault == "hang":
            seconds = fault.seconds or 10.0
            detection = self.timing.failure_detection_s
            node.frozen_until = self.engine.now + seconds
            if seconds >= detection:  # the control plane declares it failed
                self._later(detection, lambda: self.crash(node, detected=True))
        else:
            self.crash(node, detected=fault.fault == "db-failover")

    # -- database -----------------------------------------------------------------------
    def crash(self, node: DbNode, detected: bool = False) -> None:
        """``node`` dies now; the control plane recovers it (``detected``: no detection
        delay, as for a planned failover or an already detected hang)."""
        if not node.up:
            return
        world = self.world
        inflight = list(node.inflight)
        node.inflight.clear()
        node.crash()
        for request in inflight:
            self.app.abort(request)
        # A crash is noticed after crash_detection_s (a hang after failure_detection_s, above).
        detection = 0.0 if detected else self.timing.crash_detection_s
        if node is world.primary:
            self._primary_lost(node, detection)
        elif node is world.standby:
            world.sync_standby = False
            self._later(detection + world.calibration.restart_s, lambda: self._rejoin(node))
        else:
            self._later(detection, lambda: self._leave_rotation(node))
            self._later(detection + world.calibration.restart_s, lambda: self._replica_back(node))

    def _primary_lost(self, old: DbNode, detection: float) -> None:
        world = self.world
        timing = self.timing
        self._hold_proxy()
        world.replicas_detached_at = self.engine.now
        standby = world.standby
        if standby is None or not standby.up:
            self._later(detection + world.calibration.restart_s, lambda: self._restarted(old))
            return
        promote = detection + timing.promotion_delay_s + world.calibration.promote_s

        def promoted() -> None:
            standby.role, old.role = "primary", "standby"
            world.primary, world.standby = standby, old
            world.sync_standby = False
            self._later(timing.proxy_detection_s, lambda: self._release_proxy(standby))
            self._later(
                timing.dns_update_delay_s + timing.dns_ttl_s,
                lambda: setattr(world, "writer_dns", standby),
            )
            self._later(
                timing.replica_repoint_delay_s, lambda: setattr(world, "replicas_detached_at", None)
            )
            self._later(timing.rejoin_delay_s, lambda: self._rejoin(old))

        self._later(promote, promoted)

    def _restarted(self, node: DbNode) -> None:
        node.restart()
        self.world.replicas_detached_at = None
        self._release_proxy(node)

    def _rejoin(self, node: DbNode) -> None:
        node.restart()
        node.role = "standby"
        self.world.sync_standby = True

    def _leave_rotation(self, node: DbNode) -> None:
        if node in self.world.reader_rotation:
            self.world.reader_rotation.remove(node)

    def _replica_back(self, node: DbNode) -> None:
        node.restart()
        if node not in self.world.reader_rotation:
            self.world.reader_rotation.append(node)

    # -- proxy --------------------------------------------------------------------------
    def _hold_proxy(self) -> None:
        pool = self.world.proxy
        if pool is not None and not pool.slots.held:
            pool.slots.held = True
            pool.lose_connections()
            self.world.proxy_target = None
            self.world.proxy_holds.append((self.engine.now, float("inf")))

    def _release_proxy(self, node: DbNode) -> None:
        world = self.world
        pool = world.proxy
        world.proxy_target = node
        if pool is not None and pool.slots.held:
            pool.slots.held = False
            start, _ = world.proxy_holds[-1]
            world.proxy_holds[-1] = (start, self.engine.now)
            pool.slots.serve()
            self.app.open_server_connection()  # for borrowers caught waiting by the hold

    # -- cache --------------------------------------------------------------------------
    def cache_crash(self, planned: bool = False) -> None:
        """The cache primary fails (or a planned Sentinel failover starts) now."""
        world = self.world
        cache = world.config.cache
        calibration = world.calibration
        if cache.automatic_failover_enabled and len(world.cache_nodes) > 1:
            detection = 0.0 if planned else self.timing.sentinel_down_after_s
            outage = detection + calibration.cache_failover_s
            index = world.cache_nodes.index(world.cache_primary_name)
            world.cache_primary_name = world.cache_nodes[(index + 1) % len(world.cache_nodes)]
        else:
            outage = self.timing.crash_detection_s + calibration.restart_s
            world.redis.lose_data()
        world.redis.down_until = self.engine.now + outage


def implied_downtime(
    timing: TimingProfile, calibration: Calibration, path: str, multi_az: bool = True
) -> float:
    """Seconds a primary crash keeps writes from succeeding, as the timing fields imply.

    ``path`` is ``proxy`` (held until the proxy follows the new writer) or ``writer``
    (until the writer DNS name points at it for clients). Client retries can add up to one
    back-off interval on the direct path; the proxy path adds nothing (held queries run as
    soon as the proxy follows).
    """
    detection = timing.crash_detection_s
    if not multi_az:
        return detection + calibration.restart_s
    promoted = detection + timing.promotion_delay_s + calibration.promote_s
    if path == "proxy":
        return promoted + timing.proxy_detection_s
    return promoted + timing.dns_update_delay_s + timing.dns_ttl_s
