"""Architecture: the live topology (roles, health, endpoints, routes), the buttons that
fail it over, and the event timeline."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import actions, widgets
from dashboard.diagram import primaries, topology_dot
from dashboard.handles import Handles, handles
from sandbox.metrics.schema import LOAD_SOURCE


def load_label(h: Handles) -> str | None:
    """What drives the application box: the latest load throughput, if any in 5 s."""
    now = time.time()
    frame = h.metrics.series(["Requests", "Errors"], now - 5, now + 1, 1.0, sources=[LOAD_SOURCE])
    if frame.empty:
        return "load job running" if h.job("load").running() else None
    last = frame[frame["time"] == frame["time"].max()]
    values = dict(zip(last["metric"], last["value"], strict=False))
    return f"load: {values.get('Requests', 0):.0f} req/s, {values.get('Errors', 0):.0f} errors/s"


def render() -> None:
    """The page."""
    h = handles()
    st.title("Architecture")
    if widgets.running_status(h) is None:
        return

    # on_click callbacks: a click is acted on by whichever run comes next, also a live
    # panel's timed rerun (which would otherwise swallow it).
    cols = st.columns(3)
    buttons = (
        ("Fail over the database", "db-failover"),
        ("Fail over the cache", "cache-failover"),
        ("Clear all faults", "clear"),
    )
    for column, (label, fault) in zip(cols, buttons, strict=True):
        column.button(
            label,
            key=f"arch-{fault}",
            type="primary" if fault == "db-failover" else "secondary",
            on_click=lambda f=fault: actions.fault(h, f),
        )

    @st.fragment(run_every=1)
    def live() -> None:
        status = h.status()
        if status is None:
            st.rerun()
            return
        actions.show(3)
        db_primary, cache_primary = primaries(status)
        components = status.get("components") or []
        healthy = sum(1 for c in components if c["healthy"])
        facts = {
            "Database primary": db_primary or "none",
            "Cache primary": cache_primary or "none",
            "Healthy": f"{healthy} of {len(components)} components",
            "Timing profile": str(status.get("profile", "?")),
        }
        # Markdown, not st.metric: metric values cut long node names short.
        for column, (label, value) in zip(st.columns(4), facts.items(), strict=True):
            column.markdown(f"{label}  \n**{value}**")
        st.graphviz_chart(topology_dot(status, load_label(h)), width="stretch")

    live()

    @st.fragment(run_every=1)
    def timeline() -> None:
        st.subheader("Events")
        widgets.event_timeline(h)

    timeline()


if __name__ == "__main__":
    render()
