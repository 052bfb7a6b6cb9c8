"""Network faults on an endpoint: ``latency`` and ``blackhole``.

While one is active the endpoint's traffic goes through a relay (sandbox.supervisor.netgate):

* HAProxy endpoints (writer, reader, cache_primary, cache_reader): every server of the
  endpoint is re-addressed to the relay, which forwards to the node that serves the
  endpoint now (so a failover during the fault is followed). Established sessions are reset
  when the fault starts, like a route change, so that every client passes the fault.
* ``proxy``: PgBouncer's server side goes through the relay (RELOAD, then RECONNECT moves
  each server connection once it is released). Client connections to the proxy stay up;
  the proxy absorbs the change as RDS Proxy does.

When the fault ends, new connections go straight to the nodes again; relayed latency
connections carry on unimpaired, blackholed ones are dropped.
"""

from __future__ import annotations

import random
from typing import Any

from sandbox.errors import PortBusyError, UnknownNameError
from sandbox.services.base import HOST
from sandbox.supervisor.cluster import Cluster
from sandbox.supervisor.events import EventLog
from sandbox.supervisor.netgate import Impairment, Relay, RelayLoop


class NetworkFaults:
    """Applies and undoes endpoint impairments; owns the relays."""

    def __init__(self, cluster: Cluster, events: EventLog) -> None:
        self.cluster = cluster
        self.events = events
        self.loop = RelayLoop()
        self.rng = random.Random()
        self.active: dict[str, Relay] = {}
        #: Relays of ended latency faults whose connections are still open.
        self.draining: list[Relay] = []

    def impair(self, endpoint: str, impairment: Impairment) -> Relay:
        """Start impairing ``endpoint`` (replacing a fault already on it); return its relay."""
        cluster = self.cluster
        proxy = cluster.proxy
        if endpoint == "proxy" and proxy is None:
            raise UnknownNameError("this sandbox has no proxy (proxy.enabled: false)")
        if endpoint in self.active:
            self.restore(endpoint)
        port = cluster.topology.relay_port(endpoint)
        if endpoint == "proxy":
            assert proxy is not None
            relay = Relay(port, lambda: proxy.target_port, impairment, self.rng)
        else:
            relay = Relay(port, lambda: cluster.router.next_port(endpoint), impairment, self.rng)
        try:
            self.loop.run(relay.start())
        except OSError as exc:
            raise PortBusyError(
                f"port {port} on {HOST} (relay of the {endpoint} fault) is taken: {exc}; "
                "free it or move the sandbox with --port-base"
            ) from exc
        self.active[endpoint] = relay
        self._divert(endpoint, port)
        self.events.record(endpoint, "fault", f"Network fault started: {impairment.describe()}.")
        return relay

    def restore(self, endpoint: str, only: Relay | None = None) -> bool:
        """End the fault on ``endpoint`` (only if its relay is ``only``, when given: a timer
        must not end a later fault); False when there was none."""
        relay = self.active.get(endpoint)
        if relay is None or (only is not None and relay is not only):
            return False
        del self.active[endpoint]
        self._divert(endpoint, None)
        if relay.impairment.blackhole:
            self.loop.run(relay.close())
        else:
            relay.impairment = Impairment()
            self.loop.run(relay.stop_listening())
            self.draining.append(relay)
        self.events.record(endpoint, "fault", "Network fault ended.")
        return True

    def clear(self) -> list[str]:
        """End every network fault and drop relayed connections; return the endpoints."""
        ended = [endpoint for endpoint in list(self.active) if self.restore(endpoint)]
        for relay in self.draining:
            self.loop.run(relay.close())
        self.draining.clear()
        return ended

    def close(self) -> None:
        """Clear and stop the relay loop (supervisor shutdown)."""
        self.clear()
        self.loop.close()

    def describe(self) -> dict[str, Any]:
        """Active network faults by endpoint, for status."""
        return {endpoint: relay.impairment.describe() for endpoint, relay in self.active.items()}

    def _divert(self, endpoint: str, port: int | None) -> None:
        cluster = self.cluster
        if endpoint == "proxy":
            proxy = cluster.proxy
            assert proxy is not None
            proxy.upstream_override = port
            proxy.prepare()
            proxy.admin("RELOAD")
            proxy.admin("RECONNECT")
            return
        cluster.router.divert(endpoint, port)
        if port is not None:
            cluster.router.reset(endpoint)
