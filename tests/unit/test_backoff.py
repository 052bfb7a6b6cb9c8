"""Back-off of failing restarts: the pure pacing and reporting rules, and the control loop's
use of them with servers whose program (/bin/true) exits at once (nothing listens)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox.errors import ComponentFailedError, PortBusyError
from sandbox.supervisor.backoff import Retry, after_failure, backoff_delay, failure_kind
from sandbox.supervisor.db_actions import DatabaseActions
from sandbox.supervisor.events import EventLog, read_events
from sandbox.supervisor.ha import HighAvailability
from sandbox.supervisor.snapshot import ComponentState, Snapshot
from tests.unit.conftest import MakeCluster


def test_first_attempt_is_immediate_then_the_wait_doubles_up_to_the_cap() -> None:
    waits = [backoff_delay(n, 0.1, 5.0) for n in range(9)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])
    assert backoff_delay(10_000, 0.1, 5.0) == 5.0  # no overflow after a long outage


def test_a_failure_postpones_the_next_attempt_and_keeps_what_was_reported() -> None:
    retry = after_failure(Retry(reported="X: y"), now=10.0, initial=0.5, cap=4.0)
    assert retry == Retry(1, 10.5, "X: y")
    assert after_failure(Retry(3, 0.0), now=10.0, initial=0.5, cap=4.0).next_at == 14.0  # cap


def test_the_kind_of_a_failure_ignores_the_quoted_log_lines() -> None:
    first = ComponentFailedError(
        "r (redis) exited with status 1 while starting; last log lines: 12:00:01 [41] "
        "bind failed; full log: /x/r.log"
    )
    again = ComponentFailedError(
        "r (redis) exited with status 1 while starting; last log lines: 12:00:02 [57] "
        "bind failed; full log: /x/r.log"
    )
    assert failure_kind(first) == failure_kind(again)
    kind = "ComponentFailedError: r (redis) exited with status 1 while starting"
    assert failure_kind(first) == kind
    assert failure_kind(PortBusyError("port 1 taken")) != failure_kind(first)
    assert failure_kind(ComponentFailedError("a\nb")) == "ComponentFailedError: a"


def _snapshot(ha: HighAvailability, exited: str) -> Snapshot:
    servers = ha.cluster.components()
    return Snapshot(
        0.0,
        tuple(
            ComponentState(
                s.name,
                s.kind,
                ha.cluster.role_of(s),
                s.host,
                s.port,
                None if s.name == exited else 1000 + i,
                s.name != exited,
            )
            for i, s in enumerate(servers)
        ),
        (("writer", (ha.cluster.primary.name,)),),
        True,
    )


def test_a_restart_that_keeps_failing_backs_off_and_is_reported_once(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    cluster = make_cluster(
        {"port_base": 20900, "database": {"multi_az": False, "read_replicas": 0}}
    )
    now = [100.0]
    events = EventLog(tmp_path / "events.jsonl")
    with ThreadPoolExecutor(max_workers=2) as pool:
        ha = HighAvailability(
            cluster, DatabaseActions(cluster, events, pool), events, clock=lambda: now[0]
        )
        replica = cluster.cache_replicas[0]
        snapshot = _snapshot(ha, replica.name)
        attempts = 0
        # 6 s of 0.1 s cycles: 60 attempts without back-off; with it, attempts at
        # 0, 0.1, 0.3, 0.7, 1.5 and 3.1 s (the next one is due at 6.3 s).
        for _ in range(60):
            decision = ha.decide(snapshot)
            if decision is not None and decision.action is not None:
                assert replica.name in decision.sentence
                attempts += 1
                with pytest.raises(ComponentFailedError):
                    decision.action()
            now[0] += 0.1
    assert attempts == 6
    assert "attempt 6 failed" in ha.problems()[replica.name]
    reported = [e for e in read_events(events.path) if e.source == replica.name]
    assert len(reported) == 1 and "could not be restarted" in reported[0].message
