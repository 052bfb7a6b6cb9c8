"""The control loop: observe a snapshot, take at most one decision, say what it decided.

Like Patroni's HA loop, a cycle is a decision over an immutable snapshot followed by at
most one action; its sentence is logged and kept, and tests assert on it. High
availability (failover, rejoin, restarts: :mod:`sandbox.supervisor.ha`) comes first, then
the reader rotations follow the healthy replicas.
"""

from __future__ import annotations

import logging
from collections import deque

from sandbox.supervisor.cluster import Cluster
from sandbox.supervisor.decision import Decision
from sandbox.supervisor.ha import HighAvailability
from sandbox.supervisor.snapshot import Snapshot

log = logging.getLogger("rdsbox.control")


def _rotation(snapshot: Snapshot, members: set[str], fallback: str) -> set[str]:
    healthy = {name for name in members if snapshot.healthy(name)}
    return healthy or {fallback}


def decide(cluster: Cluster, snapshot: Snapshot) -> Decision:
    """The one decision this snapshot calls for."""
    routes = dict(snapshot.routes)
    if not snapshot.router_healthy:
        return Decision("endpoint router is not answering; nothing to route")
    for endpoint, members, fallback in (
        ("reader", {n.name for n in cluster.read_replicas}, cluster.primary.name),
        ("cache_reader", {n.name for n in cluster.cache_replicas}, cluster.cache_primary.name),
    ):
        wanted = _rotation(snapshot, members, fallback)
        current = set(routes.get(endpoint, ()))
        if wanted != current:
            left, joined = sorted(current - wanted), sorted(wanted - current)
            parts = ([f"{', '.join(left)} left"] if left else []) + (
                [f"{', '.join(joined)} joined"] if joined else []
            )
            return Decision(
                f"{endpoint} rotation changed: {'; '.join(parts)}",
                lambda e=endpoint, w=wanted: cluster.router.route(e, w),  # type: ignore[misc]
            )
    down = [c.name for c in snapshot.components if not c.healthy]
    if down:
        return Decision(f"waiting: {', '.join(down)} not healthy")
    return Decision("all healthy; no change")


class ControlLoop:
    """Runs cycles and remembers the recent sentences."""

    def __init__(
        self, cluster: Cluster, history: int = 200, ha: HighAvailability | None = None
    ) -> None:
        self.cluster = cluster
        self.ha = ha
        self.sentences: deque[str] = deque(maxlen=history)
        self._last = ""

    def cycle(self, snapshot: Snapshot) -> str:
        """One cycle: decide, act, return the sentence (logged when it changes)."""
        decision = (self.ha.decide(snapshot) if self.ha else None) or decide(self.cluster, snapshot)
        sentence = decision.sentence
        if decision.action is not None:
            try:
                decision.action()
            except Exception as exc:  # the loop must survive a failed action
                sentence = f"{sentence} (failed: {exc})"
        if sentence != self._last:
            log.info(sentence)
            self.sentences.append(sentence)
            self._last = sentence
        return sentence
