"""Unit tests of node names and ports derived from the configuration."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.config import config_from_mapping
from sandbox.config.model import PORT_BASE_MAX
from sandbox.errors import PortBusyError
from sandbox.topology import ENDPOINT_OFFSETS, PORT_SPAN, Topology, port_is_free

# The largest topology the configuration allows.
LARGEST: dict[str, Any] = {
    "database": {"multi_az": True, "read_replicas": 15},
    "cache": {"num_cache_clusters": 6, "automatic_failover_enabled": True},
}


def topology(data: dict[str, Any] | None = None) -> Topology:
    """A topology of a validated configuration."""
    return Topology(config_from_mapping(data or {}))


def all_ports(topo: Topology) -> list[int]:
    """Every port of ``topo`` (endpoints including the dashboard, and every node)."""
    return (
        [topo.port(name) for name in ENDPOINT_OFFSETS]
        + [topo.postgres_port(n) for n in topo.postgres_nodes]
        + [topo.redis_port(n) for n in topo.redis_nodes]
        + [topo.sentinel_port(n) for n in topo.sentinels]
    )


# --- names -------------------------------------------------------------------------------


def test_default_names() -> None:
    topo = topology()
    assert topo.multi_az_pair == ("app-primary-db-a", "app-primary-db-b")
    assert topo.replicas == ("app-primary-db-replica-0", "app-primary-db-replica-1")
    assert topo.postgres_nodes == topo.multi_az_pair + topo.replicas
    assert topo.redis_nodes == (
        "app-redis-cluster-001",
        "app-redis-cluster-002",
        "app-redis-cluster-003",
    )
    assert topo.sentinels == (
        "app-redis-cluster-sentinel-1",
        "app-redis-cluster-sentinel-2",
        "app-redis-cluster-sentinel-3",
    )


def test_single_az_has_no_standby_host() -> None:
    topo = topology({"database": {"multi_az": False, "read_replicas": 0}})
    assert topo.multi_az_pair == ("app-primary-db-a",)
    assert topo.replicas == ()
    assert topo.postgres_nodes == ("app-primary-db-a",)


def test_names_follow_the_identifiers() -> None:
    topo = topology(
        {
            "database": {"identifier": "orders", "read_replicas": 3},
            "cache": {"replication_group_id": "sessions", "num_cache_clusters": 2},
        }
    )
    assert topo.multi_az_pair == ("orders-a", "orders-b")
    assert topo.replicas == ("orders-replica-0", "orders-replica-1", "orders-replica-2")
    assert topo.redis_nodes == ("sessions-001", "sessions-002")
    assert topo.sentinels[0] == "sessions-sentinel-1"


def test_sentinels_only_with_automatic_failover() -> None:
    topo = topology({"cache": {"automatic_failover_enabled": False, "num_cache_clusters": 1}})
    assert topo.redis_nodes == ("app-redis-cluster-001",)
    assert topo.sentinels == ()
    assert not any("sentinel" in owner for owner in topo.listeners().values())


# --- ports -------------------------------------------------------------------------------


def test_ports_are_base_plus_documented_offsets() -> None:
    topo = topology({"port_base": 20000})
    assert topo.base == 20000
    expected = {
        "control": 20000,
        "writer": 20001,
        "reader": 20002,
        "proxy": 20003,
        "cache_primary": 20004,
        "cache_reader": 20005,
        "secrets_manager": 20006,
        "dashboard": 20007,
    }
    assert {name: topo.port(name) for name in expected} == expected
    assert [topo.postgres_port(n) for n in topo.postgres_nodes] == [20010, 20011, 20012, 20013]
    assert [topo.redis_port(n) for n in topo.redis_nodes] == [20030, 20031, 20032]
    assert [topo.sentinel_port(n) for n in topo.sentinels] == [20040, 20041, 20042]


def test_replica_ports_follow_the_pair_without_multi_az() -> None:
    topo = topology({"port_base": 20000, "database": {"multi_az": False}})
    assert topo.postgres_port("app-primary-db-a") == 20010
    assert topo.postgres_port("app-primary-db-replica-0") == 20011


def test_largest_topology_at_highest_base_stays_below_ephemeral_range() -> None:
    topo = topology({**LARGEST, "port_base": PORT_BASE_MAX})
    ports = all_ports(topo)
    assert len(ports) == len(set(ports)), "two things share a port"
    assert max(ports) < 32768
    assert max(ports) < PORT_BASE_MAX + PORT_SPAN
    assert min(ports) == PORT_BASE_MAX
    # listeners() keeps every one of them but the dashboard.
    assert set(topo.listeners()) == set(ports) - {topo.port("dashboard")}


def test_listeners_names_every_owner() -> None:
    topo = topology({"port_base": 20000})
    listeners = topo.listeners()
    assert listeners[20000] == "control"
    assert listeners[20003] == "proxy"
    assert listeners[20010] == "app-primary-db-a"
    assert listeners[20032] == "app-redis-cluster-003"
    assert listeners[20042] == "app-redis-cluster-sentinel-3"
    assert 20007 not in listeners  # the dashboard is optional
    assert len(listeners) == 7 + 4 + 3 + 3


def test_listeners_omit_the_proxy_when_disabled() -> None:
    topo = topology({"port_base": 20000, "proxy": {"enabled": False}})
    listeners = topo.listeners()
    assert topo.port("proxy") not in listeners
    assert "proxy" not in listeners.values()
    assert "writer" in listeners.values()


# --- busy ports --------------------------------------------------------------------------


def free_port_base() -> int:
    """A port base in 26000-26950 whose whole span is free right now."""
    for base in range(26000, 26951, PORT_SPAN):
        if all(port_is_free(port) for port in range(base, base + PORT_SPAN)):
            return base
    pytest.skip("no free port span in 26000-26999")


@pytest.fixture
def base() -> int:
    """A free port base."""
    return free_port_base()


@pytest.fixture
def listening() -> Iterator[list[socket.socket]]:
    """Sockets the test binds; all closed at the end."""
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


def listen(sockets: list[socket.socket], port: int) -> None:
    """Bind and listen on 127.0.0.1:port, like another program would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sockets.append(sock)
    # As servers do: a port left in TIME_WAIT by an earlier test's sandbox (which
    # port_is_free rightly calls free) must not make the bind fail.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()


def test_check_ports_free_passes_when_free(base: int) -> None:
    topology({"port_base": base}).check_ports_free()


def test_check_ports_free_names_port_and_owner(base: int, listening: list[socket.socket]) -> None:
    topo = topology({"port_base": base})
    port = topo.redis_port("app-redis-cluster-002")
    listen(listening, port)
    with pytest.raises(PortBusyError) as info:
        topo.check_ports_free()
    message = str(info.value)
    assert f"port {port} (app-redis-cluster-002)" in message
    assert "--port-base" in message
    assert f"{base}-{base + PORT_SPAN - 1}" in message
    assert "\n" not in message


def test_check_ports_free_reports_the_lowest_busy_port(
    base: int, listening: list[socket.socket]
) -> None:
    topo = topology({"port_base": base})
    listen(listening, topo.sentinel_port("app-redis-cluster-sentinel-1"))
    listen(listening, topo.port("reader"))
    with pytest.raises(PortBusyError, match=rf"port {base + 2} \(reader\)"):
        topo.check_ports_free()


def test_a_busy_dashboard_or_disabled_proxy_port_is_not_checked(
    base: int, listening: list[socket.socket]
) -> None:
    topo = topology({"port_base": base, "proxy": {"enabled": False}})
    listen(listening, topo.port("dashboard"))
    listen(listening, topo.port("proxy"))
    topo.check_ports_free()


def test_port_is_free_sees_a_listener(base: int, listening: list[socket.socket]) -> None:
    assert port_is_free(base)
    listen(listening, base)
    assert not port_is_free(base)
