"""Unit tests of the HAProxy configuration behind the stable endpoints (nothing runs)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from sandbox.services.haproxy import EndpointRouter
from sandbox.supervisor.cluster import Cluster
from tests.unit.conftest import MakeCluster

PG_NODES = (
    "app-primary-db-a",
    "app-primary-db-b",
    "app-primary-db-replica-0",
    "app-primary-db-replica-1",
)
REDIS_NODES = ("app-redis-cluster-001", "app-redis-cluster-002", "app-redis-cluster-003")


@dataclass
class Backend:
    """What the configuration says about one endpoint."""

    binds: list[str] = field(default_factory=list)
    balance: str | None = None
    servers: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> (addr, on)


def parse(text: str) -> tuple[list[str], dict[str, Backend]]:
    """Split haproxy.cfg into its global lines and one Backend per endpoint name."""
    global_lines: list[str] = []
    endpoints: dict[str, Backend] = {}
    section, name = "", ""
    for raw in text.splitlines():
        line = raw.strip()
        if not raw.startswith(" "):
            section, _, name = line.partition(" ")
            if section in ("frontend", "backend"):
                endpoints.setdefault(name, Backend())
            continue
        words = line.split()
        if section == "global":
            global_lines.append(line)
        elif section == "frontend" and words[0] == "bind":
            endpoints[name].binds.append(words[1])
        elif section == "backend" and words[0] == "balance":
            endpoints[name].balance = words[1]
        elif section == "backend" and words[0] == "server":
            assert words[1] not in endpoints[name].servers, f"{words[1]} declared twice"
            endpoints[name].servers[words[1]] = (words[2], "disabled" not in words[3:])
    return global_lines, endpoints


@pytest.fixture
def cluster(make_cluster: MakeCluster) -> Cluster:
    """The default sandbox with a port base easy to read."""
    return make_cluster({"port_base": 20000})


@pytest.fixture
def router(cluster: Cluster) -> EndpointRouter:
    """The cluster's endpoint router."""
    return cluster.router


def test_every_endpoint_declares_every_node(router: EndpointRouter) -> None:
    _, endpoints = parse(router.render())
    assert set(endpoints) == {"writer", "reader", "cache_primary", "cache_reader"}
    for name in ("writer", "reader"):
        assert endpoints[name].servers == {
            node: (f"127.0.0.1:{20010 + i}", False) for i, node in enumerate(PG_NODES)
        }
    for name in ("cache_primary", "cache_reader"):
        assert endpoints[name].servers == {
            node: (f"127.0.0.1:{20030 + i}", False) for i, node in enumerate(REDIS_NODES)
        }


def test_only_initial_nodes_are_enabled(cluster: Cluster, router: EndpointRouter) -> None:
    router.initial["writer"] = {cluster.primary.name}
    router.initial["reader"] = cluster.reader_targets()
    router.initial["cache_reader"] = cluster.cache_reader_targets()
    _, endpoints = parse(router.render())

    def enabled(name: str) -> set[str]:
        return {node for node, (_, on) in endpoints[name].servers.items() if on}

    assert enabled("writer") == {"app-primary-db-a"}
    assert enabled("reader") == {"app-primary-db-replica-0", "app-primary-db-replica-1"}
    assert enabled("cache_primary") == set()
    assert enabled("cache_reader") == {"app-redis-cluster-002", "app-redis-cluster-003"}
    # Disabled ones are still declared, so the runtime API can enable them later.
    assert len(endpoints["writer"].servers) == len(PG_NODES)


def test_reader_endpoints_round_robin(router: EndpointRouter) -> None:
    _, endpoints = parse(router.render())
    assert endpoints["reader"].balance == "roundrobin"
    assert endpoints["cache_reader"].balance == "roundrobin"
    assert endpoints["writer"].balance == "first"
    assert endpoints["cache_primary"].balance == "first"


def test_endpoints_bind_only_loopback(router: EndpointRouter) -> None:
    text = router.render()
    _, endpoints = parse(text)
    ports = {"writer": 20001, "reader": 20002, "cache_primary": 20004, "cache_reader": 20005}
    for name, port in ports.items():
        assert endpoints[name].binds == [f"127.0.0.1:{port}"]
    binds = [line.split()[1] for line in text.splitlines() if line.strip().startswith("bind")]
    assert len(binds) == 4
    assert all(bind.startswith("127.0.0.1:") for bind in binds)
    assert "0.0.0.0" not in text
    assert not re.search(r"bind\s+(\*|:)", text)


def test_stats_socket_is_inside_the_state_dir(cluster: Cluster, router: EndpointRouter) -> None:
    global_lines, _ = parse(router.render())
    stats = [line for line in global_lines if line.startswith("stats socket")]
    assert len(stats) == 1
    words = stats[0].split()
    assert words[2] == str(cluster.state.run / "haproxy.sock")
    assert words[2] == str(router.socket_path)
    assert "mode 600" in stats[0]


def test_tcp_mode(router: EndpointRouter) -> None:
    assert "    mode tcp" in router.render().splitlines()


def test_prepare_writes_the_rendered_config(cluster: Cluster, router: EndpointRouter) -> None:
    router.initial["writer"] = {"app-primary-db-b"}
    router.prepare()
    assert router.conf_path == cluster.state.conf_dir("endpoints") / "haproxy.cfg"
    assert router.conf_path.read_text() == router.render()


def test_command_runs_in_the_foreground(router: EndpointRouter) -> None:
    assert router.command() == ["/bin/true", "-db", "-f", str(router.conf_path)]


def test_smaller_topology(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(
        {
            "port_base": 20000,
            "database": {"multi_az": False, "read_replicas": 0},
            "cache": {"num_cache_clusters": 1, "automatic_failover_enabled": False},
        }
    )
    _, endpoints = parse(cluster.router.render())
    assert set(endpoints["reader"].servers) == {"app-primary-db-a"}
    assert set(endpoints["cache_reader"].servers) == {"app-redis-cluster-001"}
