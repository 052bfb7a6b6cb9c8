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


def _value(key: str) -> Any:
    return st.session_state.get(key)


def _seconds(key: str) -> float | None:
    """A duration input's value; 0 means "until cleared"."""
    return float(_value(key) or 0) or None


# Buttons act in on_click callbacks: Streamlit runs those with the click's widget state
# whichever run comes next, also a live panel's timed rerun, which would otherwise swallow
# the click.


def processes(h: Handles, status: dict[str, Any]) -> None:
    """kill, stop, start, hang on any component."""
    st.markdown("**Processes** (any component)")
    st.selectbox("Component", _names(status), key="fault-component")
    cols = st.columns(4)
    for column, (fault, label, help_text) in zip(
        cols,
        (
            ("kill", "Kill", "SIGKILL: a crash the control plane heals"),
            ("stop", "Stop", "Stays down until Start"),
            ("start", "Start", "Release a stopped component"),
        ),
        strict=False,
    ):
        column.button(
            label,
            key=f"fault-{fault}",
            help=help_text,
            on_click=lambda f=fault: actions.fault(h, f, _value("fault-component")),
        )
    st.number_input("Hang for (s)", 1.0, 600.0, 5.0, key="fault-hang-for")
    cols[3].button(
        "Hang",
        key="fault-hang",
        help="SIGSTOP, then SIGCONT",
        on_click=lambda: actions.fault(
            h, "hang", _value("fault-component"), _seconds("fault-hang-for")
        ),
    )


def database(h: Handles, status: dict[str, Any]) -> None:
    """Failover, replica lag, promote-replica."""
    st.markdown("**Database**")
    st.button(
        "Multi-AZ failover",
        key="fault-db-failover",
        type="primary",
        on_click=lambda: actions.fault(h, "db-failover"),
    )
    st.selectbox("Read replica", _names(status, "postgres", "replica"), key="fault-replica")
    st.number_input("Lag for (s)", 1.0, 600.0, 10.0, key="fault-lag-for")
    cols = st.columns(2)
    cols[0].button(
        "Pause replay (replica lag)",
        key="fault-replica-lag",
        on_click=lambda: actions.fault(
            h, "replica-lag", _value("fault-replica"), _seconds("fault-lag-for")
        ),
    )

    def promote() -> None:
        replica = str(_value("fault-replica"))
        actions.submit(h, f"promote-replica {replica}", lambda: h.client.promote_replica(replica))

    cols[1].button("Promote replica", key="fault-promote-replica", on_click=promote)


def network(h: Handles) -> None:
    """latency, blackhole, reset on a client endpoint."""
    st.markdown("**Network** (a client endpoint)")
    st.selectbox("Endpoint", CLIENT_ENDPOINTS, key="fault-endpoint")
    cols = st.columns(3)
    cols[0].number_input("Latency (ms)", 0.0, 10000.0, 50.0, key="fault-ms")
    cols[1].number_input("Jitter (± ms)", 0.0, 10000.0, 0.0, key="fault-jitter")
    cols[2].number_input("For (s, 0 = until cleared)", 0.0, 86400.0, 0.0, key="fault-net-for")

    def latency() -> None:
        options = {"ms": float(_value("fault-ms")), "jitter": float(_value("fault-jitter"))}
        actions.fault(h, "latency", _value("fault-endpoint"), _seconds("fault-net-for"), **options)

    cols = st.columns(3)
    cols[0].button("Add latency", key="fault-latency", on_click=latency)
    cols[1].button(
        "Blackhole",
        key="fault-blackhole",
        on_click=lambda: actions.fault(
            h, "blackhole", _value("fault-endpoint"), _seconds("fault-net-for")
        ),
    )
    cols[2].button(
        "Reset connections",
        key="fault-reset",
        on_click=lambda: actions.fault(h, "reset", _value("fault-endpoint")),
    )


def services(h: Handles) -> None:
    """Cache failover, secret rotation, clear."""
    st.markdown("**Cache, secret, all**")
    cols = st.columns(3)
    for column, (fault, label) in zip(
        cols,
        (
            ("cache-failover", "Cache failover"),
            ("rotate-secret", "Rotate the secret"),
            ("clear", "Clear all faults"),
        ),
        strict=True,
    ):
        column.button(label, key=f"fault-{fault}", on_click=lambda f=fault: actions.fault(h, f))


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
