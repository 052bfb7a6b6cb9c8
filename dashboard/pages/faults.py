"""Faults: one control for every `rdsbox fault` (and promote-replica), with its options.
Each button sends the fault in the background; its answer and the events it caused appear
below."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import actions, widgets
from dashboard.handles import Handles, handles
from sandbox.topology import CLIENT_ENDPOINTS


def _names(status: dict[str, Any], kind: str | None = None, role: str | None = None) -> list[str]:
    return [
        c["name"]
        for c in status.get("components") or []
        if (kind is None or c["kind"] == kind) and (role is None or c["role"] == role)
    ]


def _until(label: str, key: str) -> float | None:
    """A duration input where 0 means "until cleared"."""
    seconds = st.number_input(label, min_value=0.0, value=0.0, step=1.0, key=key)
    return float(seconds) or None


def processes(h: Handles, status: dict[str, Any]) -> None:
    """kill, stop, start, hang on any component."""
    st.markdown("**Processes** (any component)")
    name = st.selectbox("Component", _names(status), key="fault-component")
    cols = st.columns(4)
    if cols[0].button("Kill", key="fault-kill", help="SIGKILL: a crash the control plane heals"):
        actions.fault(h, "kill", name)
    if cols[1].button("Stop", key="fault-stop", help="Stays down until Start"):
        actions.fault(h, "stop", name)
    if cols[2].button("Start", key="fault-start", help="Release a stopped component"):
        actions.fault(h, "start", name)
    seconds = st.number_input("Hang for (s)", 1.0, 600.0, 5.0, key="fault-hang-for")
    if cols[3].button("Hang", key="fault-hang", help="SIGSTOP, then SIGCONT"):
        actions.fault(h, "hang", name, float(seconds))


def database(h: Handles, status: dict[str, Any]) -> None:
    """Failover, replica lag, promote-replica."""
    st.markdown("**Database**")
    if st.button("Multi-AZ failover", key="fault-db-failover", type="primary"):
        actions.fault(h, "db-failover")
    replicas = _names(status, "postgres", "replica")
    replica = st.selectbox("Read replica", replicas, key="fault-replica")
    seconds = st.number_input("Lag for (s)", 1.0, 600.0, 10.0, key="fault-lag-for")
    cols = st.columns(2)
    if cols[0].button("Pause replay (replica lag)", key="fault-replica-lag"):
        actions.fault(h, "replica-lag", replica, float(seconds))
    if cols[1].button("Promote replica", key="fault-promote-replica"):
        actions.submit(
            h, f"promote-replica {replica}", lambda: h.client.promote_replica(str(replica))
        )


def network(h: Handles) -> None:
    """latency, blackhole, reset on a client endpoint."""
    st.markdown("**Network** (a client endpoint)")
    endpoint = st.selectbox("Endpoint", CLIENT_ENDPOINTS, key="fault-endpoint")
    cols = st.columns(3)
    ms = cols[0].number_input("Latency (ms)", 0.0, 10000.0, 50.0, key="fault-ms")
    jitter = cols[1].number_input("Jitter (± ms)", 0.0, 10000.0, 0.0, key="fault-jitter")
    with cols[2]:
        seconds = _until("For (s, 0 = until cleared)", "fault-net-for")
    cols = st.columns(3)
    if cols[0].button("Add latency", key="fault-latency"):
        actions.fault(h, "latency", endpoint, seconds, ms=float(ms), jitter=float(jitter))
    if cols[1].button("Blackhole", key="fault-blackhole"):
        actions.fault(h, "blackhole", endpoint, seconds)
    if cols[2].button("Reset connections", key="fault-reset"):
        actions.fault(h, "reset", endpoint)


def services(h: Handles) -> None:
    """Cache failover, secret rotation, clear."""
    st.markdown("**Cache, secret, all**")
    cols = st.columns(3)
    if cols[0].button("Cache failover", key="fault-cache-failover"):
        actions.fault(h, "cache-failover")
    if cols[1].button("Rotate the secret", key="fault-rotate-secret"):
        actions.fault(h, "rotate-secret")
    if cols[2].button("Clear all faults", key="fault-clear"):
        actions.fault(h, "clear")


def render() -> None:
    """The page."""
    h = handles()
    st.title("Faults")
    status = widgets.running_status(h)
    if status is None:
        return
    left, right = st.columns(2)
    with left, st.container(border=True):
        processes(h, status)
    with right, st.container(border=True):
        database(h, status)
    left, right = st.columns(2)
    with left, st.container(border=True):
        network(h)
    with right, st.container(border=True):
        services(h)

    @st.fragment(run_every=1)
    def results() -> None:
        active = {k: v for k, v in (h.status() or {}).get("faults", {}).items() if v}
        st.caption(f"Active faults: {active or 'none'}")
        actions.show(5)
        st.subheader("Events")
        widgets.event_timeline(h)

    results()


if __name__ == "__main__":
    render()
