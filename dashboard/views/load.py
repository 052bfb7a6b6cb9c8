"""Load: start and stop `rdsbox load` in the background with any of its options, and watch
its throughput and latency (the ``load`` series of the metrics store) live."""

from __future__ import annotations

import time
import typing
from typing import Any

import streamlit as st

from dashboard import actions, widgets
from dashboard.handles import Handles, handles
from dashboard.timeseries import lines
from sandbox.metrics.schema import LOAD_SOURCE
from sandbox.workload.spec import LoadSpec

#: Defaults that differ from `rdsbox load`'s: a demo runs for minutes, not seconds.
PAGE_DEFAULTS: dict[str, Any] = {"duration": 300.0}
LIVE_WINDOW_S = 300


def spec_inputs() -> None:
    """One input per LoadSpec field (choices for the fixed sets), keyed ``load-FIELD``."""
    cols = st.columns(4)
    for index, (name, field) in enumerate(LoadSpec.model_fields.items()):
        default = PAGE_DEFAULTS.get(name, field.default)
        label = name.replace("_", " ")
        column = cols[index % len(cols)]
        choices = typing.get_args(field.annotation)
        key = f"load-{name}"
        if choices:
            column.selectbox(
                label, choices, index=choices.index(default), key=key, help=field.description
            )
        elif field.annotation is int:
            column.number_input(label, value=int(default), step=1, key=key, help=field.description)
        else:
            column.number_input(label, value=float(default), key=key, help=field.description)


def chosen() -> dict[str, Any]:
    """The inputs' current values, by LoadSpec field."""
    return {name: st.session_state[f"load-{name}"] for name in LoadSpec.model_fields}


def load_args(values: dict[str, Any]) -> list[str]:
    """`rdsbox load` arguments for the values that differ from its defaults."""
    args = ["load"]
    for name, value in values.items():
        if value != LoadSpec.model_fields[name].default:
            args += [
                f"--{name.replace('_', '-')}",
                f"{value:g}" if isinstance(value, float) else str(value),
            ]
    return args


def live(h: Handles) -> None:
    """The job's state and the last few minutes of the application's series."""
    job = h.job("load")
    info = job.info()
    if job.running() and info is not None:
        since = time.time() - float(info["started_at"])
        st.success(f"Running for {since:.0f} s: `rdsbox {' '.join(info['args'])}`")
    elif info is not None:
        st.info(f"Not running. Last run: `rdsbox {' '.join(info['args'])}`")
    else:
        st.info("No load started from here yet.")
    output = job.output(4)
    if output:
        st.code("\n".join(output), language=None)
    now = time.time()
    frame = h.metrics.series(
        [
            "Requests",
            "Errors",
            "RequestLatencyP50",
            "RequestLatencyP95",
            "RequestLatencyP99",
            "CacheHitRatio",
        ],
        now - LIVE_WINDOW_S,
        now + 1,
        1.0,
        sources=[LOAD_SOURCE],
    )
    if not frame.empty:
        newest = frame[frame["time"] == frame["time"].max()]
        last = dict(zip(newest["metric"], newest["value"], strict=True))
        cols = st.columns(4)
        cols[0].metric("Requests/s", f"{last.get('Requests', 0):.0f}")
        cols[1].metric("Errors/s", f"{last.get('Errors', 0):.0f}")
        cols[2].metric("p99 latency", f"{last.get('RequestLatencyP99', 0):.1f} ms")
        cols[3].metric("Cache hit ratio", f"{last.get('CacheHitRatio', 0):.1f} %")
    left, right = st.columns(2)
    with left:
        throughput = lines(frame[frame["metric"].isin(["Requests", "Errors"])], "metric")
        widgets.line_chart("Throughput", throughput, "per second", "no load series yet")
    with right:
        names = {f"RequestLatency{p}": p.lower() for p in ("P50", "P95", "P99")}
        latency = lines(frame[frame["metric"].isin(list(names))], "metric", names)
        widgets.line_chart("Latency", latency, "ms", "no load series yet")


def render() -> None:
    """The page."""
    h = handles()
    st.title("Load")
    if widgets.running_status(h) is None:
        return
    with st.container(border=True):
        spec_inputs()
        st.code(f"rdsbox {' '.join(load_args(chosen()))}", language="sh")
        cols = st.columns(6)

        # Callbacks: a click is never lost to the live panel's timed rerun.
        def start() -> None:
            if actions.first_click("load-start"):
                h.job("load").start(load_args(chosen()))

        def stop() -> None:
            h.job("load").stop()

        cols[0].button("Start load", key="load-start", type="primary", on_click=start)
        cols[1].button("Stop load", key="load-stop", on_click=stop)

    @st.fragment(run_every=1)
    def panel() -> None:
        live(h)

    panel()


if __name__ == "__main__":
    render()
