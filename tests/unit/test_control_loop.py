"""Unit tests of the control loop's decisions over hand-made snapshots (nothing runs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest

from sandbox.supervisor.cluster import Cluster
from sandbox.supervisor.control_loop import ControlLoop, decide
from sandbox.supervisor.snapshot import ComponentState, Snapshot
from tests.unit.conftest import MakeCluster

PRIMARY = "app-primary-db-a"
STANDBY = "app-primary-db-b"
REPLICAS = ("app-primary-db-replica-0", "app-primary-db-replica-1")
CACHE_PRIMARY = "app-redis-cluster-001"
CACHE_REPLICAS = ("app-redis-cluster-002", "app-redis-cluster-003")

Routes = Mapping[str, Iterable[str]]
Calls = list[tuple[str, set[str]]]


def steady_routes(cluster: Cluster) -> dict[str, set[str]]:
    """Routes of a healthy sandbox."""
    return {
        "writer": {cluster.primary.name},
        "reader": cluster.reader_targets(),
        "cache_primary": {cluster.cache_primary.name},
        "cache_reader": cluster.cache_reader_targets(),
    }


def snapshot(
    cluster: Cluster,
    routes: Routes | None = None,
    unhealthy: Iterable[str] = (),
    router_healthy: bool = True,
) -> Snapshot:
    """A snapshot of every component of ``cluster``, healthy unless named in ``unhealthy``."""
    down = set(unhealthy)
    components = tuple(
        ComponentState(
            server.name,
            server.kind,
            cluster.role_of(server),
            server.host,
            server.port,
            1000 + index,
            server.name not in down,
        )
        for index, server in enumerate(cluster.components())
    )
    assert down <= {c.name for c in components}, "unknown component in the test"
    chosen = steady_routes(cluster) if routes is None else routes
    return Snapshot(
        123.0,
        components,
        tuple((name, tuple(sorted(nodes))) for name, nodes in sorted(chosen.items())),
        router_healthy,
    )


@pytest.fixture
def cluster(make_cluster: MakeCluster) -> Cluster:
    """The default sandbox: Multi-AZ pair, two replicas, three Redis nodes."""
    return make_cluster()


@pytest.fixture
def calls(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Every ``cluster.router.route(endpoint, nodes)`` call, recorded instead of sent."""
    recorded: Calls = []

    def route(endpoint: str, enabled: set[str], reset_others: bool = False) -> None:
        recorded.append((endpoint, set(enabled)))

    monkeypatch.setattr(cluster.router, "route", route)
    return recorded


def test_the_cluster_has_the_expected_roles(cluster: Cluster) -> None:
    assert cluster.primary.name == PRIMARY
    assert cluster.standby is not None
    assert cluster.standby.name == STANDBY
    assert {n.name for n in cluster.read_replicas} == set(REPLICAS)
    assert {n.name for n in cluster.cache_replicas} == set(CACHE_REPLICAS)


def test_all_healthy_and_routes_matching_is_no_change(cluster: Cluster, calls: Calls) -> None:
    decision = decide(cluster, snapshot(cluster))
    assert decision.sentence == "all healthy; no change"
    assert decision.action is None
    assert calls == []


def test_an_unhealthy_replica_leaves_the_reader_rotation(cluster: Cluster, calls: Calls) -> None:
    decision = decide(cluster, snapshot(cluster, unhealthy=[REPLICAS[1]]))
    assert "reader rotation" in decision.sentence
    assert f"{REPLICAS[1]} left" in decision.sentence
    assert REPLICAS[0] not in decision.sentence
    assert decision.action is not None
    assert calls == [], "deciding must not act"
    decision.action()
    assert calls == [("reader", {REPLICAS[0]})]


def test_a_recovered_replica_joins_the_reader_rotation(cluster: Cluster, calls: Calls) -> None:
    routes = {**steady_routes(cluster), "reader": {REPLICAS[0]}}
    decision = decide(cluster, snapshot(cluster, routes))
    assert decision.sentence == f"reader rotation changed: {REPLICAS[1]} joined"
    assert decision.action is not None
    decision.action()
    assert calls == [("reader", set(REPLICAS))]


def test_no_healthy_replica_falls_back_to_the_primary(cluster: Cluster, calls: Calls) -> None:
    decision = decide(cluster, snapshot(cluster, unhealthy=REPLICAS))
    assert decision.sentence.startswith("reader rotation changed:")
    assert f"{REPLICAS[0]}, {REPLICAS[1]} left" in decision.sentence
    assert f"{PRIMARY} joined" in decision.sentence
    assert decision.action is not None
    decision.action()
    assert calls == [("reader", {PRIMARY})]


def test_an_unhealthy_cache_replica_leaves_the_cache_reader_rotation(
    cluster: Cluster, calls: Calls
) -> None:
    decision = decide(cluster, snapshot(cluster, unhealthy=[CACHE_REPLICAS[0]]))
    assert decision.sentence == f"cache_reader rotation changed: {CACHE_REPLICAS[0]} left"
    assert decision.action is not None
    decision.action()
    assert calls == [("cache_reader", {CACHE_REPLICAS[1]})]


def test_reader_is_decided_before_cache_reader(cluster: Cluster, calls: Calls) -> None:
    decision = decide(cluster, snapshot(cluster, unhealthy=[REPLICAS[0], CACHE_REPLICAS[0]]))
    assert decision.sentence.startswith("reader rotation changed")
    assert decision.action is not None
    decision.action()
    assert [endpoint for endpoint, _ in calls] == ["reader"]


def test_unhealthy_router_means_no_action(cluster: Cluster, calls: Calls) -> None:
    decision = decide(cluster, snapshot(cluster, {}, unhealthy=REPLICAS, router_healthy=False))
    assert decision.action is None
    assert "router" in decision.sentence
    assert calls == []


def test_down_component_outside_rotations_is_waited_for(cluster: Cluster, calls: Calls) -> None:
    decision = decide(cluster, snapshot(cluster, unhealthy=[STANDBY]))
    assert decision.action is None
    assert decision.sentence == f"waiting: {STANDBY} not healthy"


def test_without_replicas_the_reader_is_the_primary(
    make_cluster: MakeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = make_cluster({"database": {"read_replicas": 0}})
    recorded: Calls = []
    monkeypatch.setattr(cluster.router, "route", lambda e, n: recorded.append((e, set(n))))
    assert decide(cluster, snapshot(cluster)).sentence == "all healthy; no change"
    routes = {**steady_routes(cluster), "reader": set()}
    decision = decide(cluster, snapshot(cluster, routes))
    assert decision.sentence == f"reader rotation changed: {PRIMARY} joined"
    assert decision.action is not None
    decision.action()
    assert recorded == [("reader", {PRIMARY})]


# --- ControlLoop -------------------------------------------------------------------------


def test_cycle_acts_and_returns_the_sentence(cluster: Cluster, calls: Calls) -> None:
    loop = ControlLoop(cluster)
    sentence = loop.cycle(snapshot(cluster, unhealthy=[REPLICAS[0]]))
    assert sentence == f"reader rotation changed: {REPLICAS[0]} left"
    assert calls == [("reader", {REPLICAS[1]})]
    assert list(loop.sentences) == [sentence]


def test_cycle_keeps_a_repeated_sentence_once(cluster: Cluster, calls: Calls) -> None:
    loop = ControlLoop(cluster)
    for _ in range(3):
        assert loop.cycle(snapshot(cluster)) == "all healthy; no change"
    assert list(loop.sentences) == ["all healthy; no change"]
    assert calls == []


def test_cycle_history_is_bounded(cluster: Cluster, calls: Calls) -> None:
    loop = ControlLoop(cluster, history=2)
    loop.cycle(snapshot(cluster, unhealthy=[STANDBY]))
    loop.cycle(snapshot(cluster, unhealthy=[CACHE_PRIMARY]))
    loop.cycle(snapshot(cluster))
    assert list(loop.sentences) == [
        f"waiting: {CACHE_PRIMARY} not healthy",
        "all healthy; no change",
    ]


def test_cycle_survives_a_failing_action(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(endpoint: str, enabled: set[str], reset_others: bool = False) -> None:
        raise RuntimeError("runtime API gone")

    monkeypatch.setattr(cluster.router, "route", broken)
    loop = ControlLoop(cluster)
    sentence = loop.cycle(snapshot(cluster, unhealthy=[REPLICAS[1]]))
    assert "failed" in sentence
    assert "runtime API gone" in sentence
    assert sentence.startswith(f"reader rotation changed: {REPLICAS[1]} left")
    # The loop goes on with the next snapshot.
    assert loop.cycle(snapshot(cluster)) == "all healthy; no change"
