"""The stable endpoints (writer, reader, cache_primary, cache_reader), served by HAProxy.

AWS gives clients DNS names that follow the primary; locally a client needs a fixed
host:port, so each endpoint is a TCP listener that forwards to whichever node currently
holds the role. The data plane is HAProxy in TCP mode: a Python forwarder measured about
0.58x of direct ``pgbench -S`` throughput here, PgBouncer about 0.66x, HAProxy about 0.71x
(``benchmarks/endpoints.py``). The supervisor stays the control plane: it declares every
node as a server of every endpoint it may serve and switches them on and off through
HAProxy's runtime API; HAProxy's own health checks are not used.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sandbox.services.base import HOST, ManagedServer, ServerContext

ROUTER_NAME = "endpoints"


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: its listener and every node it may forward to (name -> port)."""

    name: str
    port: int
    nodes: Mapping[str, int]
    #: Round robin across all enabled nodes (reader endpoints) or a single target.
    balanced: bool


class RuntimeApiError(RuntimeError):
    """HAProxy's runtime API did not answer."""


class EndpointRouter(ManagedServer):
    """One ``haproxy`` process serving every endpoint of the sandbox."""

    kind = "haproxy"

    def __init__(self, context: ServerContext, endpoints: Sequence[Endpoint]) -> None:
        # Its "port" is the first endpoint's: the router has no port of its own.
        super().__init__(ROUTER_NAME, endpoints[0].port, context)
        self.endpoints = {endpoint.name: endpoint for endpoint in endpoints}
        #: Which nodes start enabled, per endpoint; later changes go through ``route``.
        self.initial: dict[str, set[str]] = {name: set() for name in self.endpoints}
        self._turn = 0

    @property
    def socket_path(self) -> Path:
        """The runtime API's unix socket (mode 0600)."""
        return self.state.run / "haproxy.sock"

    @property
    def conf_path(self) -> Path:
        """haproxy.cfg."""
        return self.state.conf_dir(self.name) / "haproxy.cfg"

    def prepare(self) -> None:
        """Write haproxy.cfg with every node declared and the initial ones enabled."""
        self.conf_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.conf_path.write_text(self.render())

    def render(self) -> str:
        """The configuration text."""
        parts = [
            "# Written by rdsbox: the sandbox's stable endpoints.",
            "global",
            "    maxconn 4000",
            # Two threads measured faster than one on two cores; splice avoids copies.
            "    nbthread 2",
            f"    stats socket {self.socket_path} mode 600 level admin",
            "    log stderr format raw daemon notice",
            "defaults",
            "    mode tcp",
            "    log global",
            "    option splice-auto",
            "    timeout connect 2s",
            # A node that is down refuses at once, as a dead host behind a DNS name does;
            # HAProxy's retries would hold the client for a second per retry instead.
            "    retries 0",
            # Database and cache sessions are long-lived; idle timeouts belong to clients.
            "    timeout client 24h",
            "    timeout server 24h",
            "    timeout tunnel 24h",
        ]
        for endpoint in self.endpoints.values():
            parts += [
                f"frontend {endpoint.name}",
                f"    bind {HOST}:{endpoint.port}",
                f"    default_backend {endpoint.name}",
                f"backend {endpoint.name}",
                f"    balance {'roundrobin' if endpoint.balanced else 'first'}",
            ]
            for node, port in endpoint.nodes.items():
                state = "" if node in self.initial[endpoint.name] else " disabled"
                parts.append(f"    server {node} {HOST}:{port}{state}")
        return "\n".join(parts) + "\n"

    def command(self) -> list[str]:
        """Foreground HAProxy (-db: no daemon)."""
        return [str(self.binaries["haproxy"]), "-db", "-f", str(self.conf_path)]

    def api(self, command: str, timeout: float = 2.0) -> str:
        """Send one or more ``;``-separated runtime API commands; return the answer."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(str(self.socket_path))
                sock.sendall(command.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise RuntimeApiError(f"HAProxy runtime API: {exc}") from exc
        return b"".join(chunks).decode()

    def route(self, endpoint: str, enabled: set[str], reset_others: bool = False) -> None:
        """Make exactly ``enabled`` serve ``endpoint``; optionally cut sessions of the rest."""
        commands = []
        for node in self.endpoints[endpoint].nodes:
            state = "ready" if node in enabled else "maint"
            commands.append(f"set server {endpoint}/{node} state {state}")
            if reset_others and node not in enabled:
                commands.append(f"shutdown sessions server {endpoint}/{node}")
        self.api(";".join(commands))

    def reset(self, endpoint: str) -> None:
        """Cut every session of ``endpoint`` (its clients see their connection drop)."""
        nodes = self.endpoints[endpoint].nodes
        self.api(";".join(f"shutdown sessions server {endpoint}/{node}" for node in nodes))

    def divert(self, endpoint: str, port: int | None) -> None:
        """Send ``endpoint``'s new connections to ``port`` (a fault relay) instead of its
        nodes, or back to the nodes with None. Established sessions are not moved."""
        nodes = self.endpoints[endpoint].nodes
        self.api(
            ";".join(
                f"set server {endpoint}/{node} addr {HOST} port {port or node_port}"
                for node, node_port in nodes.items()
            )
        )

    def next_port(self, endpoint: str) -> int | None:
        """Port of a node that currently serves ``endpoint`` (rotating among several), for a
        relay that stands in for HAProxy's own balancing while a fault is active."""
        serving = sorted(self.enabled()[endpoint])
        if not serving:
            return None
        self._turn += 1
        return self.endpoints[endpoint].nodes[serving[self._turn % len(serving)]]

    def enabled(self) -> dict[str, set[str]]:
        """Which nodes each endpoint currently forwards to (from HAProxy itself)."""
        answer = self.api("show servers state")
        result: dict[str, set[str]] = {name: set() for name in self.endpoints}
        for line in answer.splitlines():
            fields = line.split()
            # Columns: be_id be_name srv_id srv_name srv_addr srv_op_state ... An operational
            # state of 2 means running: the admin-state bits keep a stale "disabled in the
            # configuration" flag after `set server ... state ready`.
            if len(fields) > 6 and fields[1] in result and fields[5] == "2":
                result[fields[1]].add(fields[3])
        return result

    def probe(self) -> bool:
        """The runtime API answers."""
        with contextlib.suppress(RuntimeApiError):
            return "Name: HAProxy" in self.api("show info")
        return False
