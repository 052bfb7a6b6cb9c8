"""Pieces several pages show: the "no sandbox" notice with its start button, the event
timeline, a titled line chart."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.handles import Handles, up_args
from sandbox.supervisor.events import read_events


def running_status(handles: Handles) -> dict[str, Any] | None:
    """The sandbox's status, or None after showing how to start one (and a button that
    does: `rdsbox up` in the background; the page reloads once it is up)."""
    status = handles.status()
    if status is None:
        no_sandbox(handles)
    return status


def no_sandbox(handles: Handles) -> None:
    """Say that no sandbox runs here, how to start one, and offer to."""
    root = handles.state.root
    st.warning(f"No sandbox is running in `{root}`.")
    st.markdown(
        "Start one from a terminal and this page follows it:\n\n"
        f"```sh\nrdsbox --state-dir {root} up\n```\n\n"
        "or start it from here (it takes a few seconds):"
    )
    job = handles.job("up")

    def start() -> None:  # a callback: never lost to the timed rerun below
        if not job.running():
            job.start([*up_args(), "up"])

    st.button("Start the sandbox", key="start-sandbox", type="primary", on_click=start)

    @st.fragment(run_every=1)
    def progress() -> None:
        if handles.status() is not None:
            st.rerun()  # the whole page, now with a sandbox
        if job.running():
            st.info("Starting the sandbox…\n\n" + "\n".join(job.output(8)))
        elif any(line.startswith("rdsbox: error") for line in job.output(5)):
            st.error("`rdsbox up` failed:\n\n```\n" + "\n".join(job.output(12)) + "\n```")

    progress()


def event_timeline(handles: Handles, limit: int = 40) -> None:
    """The newest RDS-style events first (faults, failovers, restarts)."""
    events = read_events(handles.state.events_file)[-limit:]
    if not events:
        st.caption("No events yet.")
        return
    frame = pd.DataFrame([asdict(e) for e in reversed(events)])
    st.dataframe(
        frame[["time", "source", "category", "message"]],
        hide_index=True,
        width="stretch",
    )


def line_chart(title: str, data: pd.DataFrame, unit: str, empty: str = "no data yet") -> None:
    """A titled line chart of long-form data: the first column is the x axis (times or
    seconds), then ``line`` (which line) and ``value``.

    A hand-written Vega-Lite spec: ``st.line_chart`` builds and validates an Altair chart,
    which costs about 0.3 s of CPU per chart, a page of ten charts seconds."""
    st.markdown(f"**{title}** ({unit})")
    data = data.dropna()
    if data.empty:
        st.caption(empty)
        return
    axis = str(data.columns[0])
    temporal = pd.api.types.is_datetime64_any_dtype(data[axis])
    if temporal:
        data = with_gaps(data, axis)
    spec = {
        # A stretch without samples (no load, a stopped sandbox) breaks the line.
        "mark": {"type": "line", "tooltip": True, "invalid": "break-paths-show-domains"},
        "height": 220,
        "encoding": {
            "x": {"field": axis, "type": "temporal" if temporal else "quantitative", "title": None},
            "y": {"field": "value", "type": "quantitative", "title": unit},
            "color": {"field": "line", "type": "nominal", "title": None},
        },
    }
    st.vega_lite_chart(data, spec, width="stretch")


def with_gaps(data: pd.DataFrame, axis: str) -> pd.DataFrame:
    """``data`` with an empty value (NaN) for every missing step of every line, the step
    being the smallest time difference in the data, so that the chart shows gaps."""
    stamps = data[axis].drop_duplicates().sort_values()
    step = stamps.diff().min()
    if pd.isna(step) or step <= pd.Timedelta(0):
        return data
    grid = pd.date_range(stamps.iloc[0], stamps.iloc[-1], freq=step)
    table = data.pivot_table(index=axis, columns="line", values="value", aggfunc="sum")
    full = table.reindex(grid).rename_axis(axis).reset_index()
    return full.melt(axis, var_name="line", value_name="value")
