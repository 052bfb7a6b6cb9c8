"""Metrics: CloudWatch-style series of the sandbox and the application over a chosen
window, downsampled in SQL (about 300 points per line whatever the window)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard.handles import handles
from dashboard.timeseries import bucket_seconds, lines
from dashboard.widgets import line_chart
from sandbox.metrics.schema import LOAD_SOURCE
from sandbox.topology import Topology

WINDOWS = {"5 minutes": 300, "15 minutes": 900, "1 hour": 3600, "6 hours": 21600}

#: Every metric this page draws (one query fetches them all).
METRICS = (
    "CacheHits",
    "CacheMisses",
    "ClientConnections",
    "DatabaseConnections",
    "QueryRequests",
    "Requests",
    "Errors",
    "RequestLatencyP50",
    "RequestLatencyP99",
    "ReplicaLag",
    "CurrConnections",
    "Evictions",
)


@dataclass(frozen=True)
class Sources:
    """Which metric sources are which kind of component."""

    proxy: str
    postgres: tuple[str, ...]
    replicas: tuple[str, ...]
    redis: tuple[str, ...]

    @classmethod
    def of(cls, topology: Topology | None) -> Sources:
        """From the sandbox's names (none known: no component series)."""
        if topology is None:
            return cls("", (), (), ())
        return cls(
            topology.config.proxy.name,
            topology.postgres_nodes,
            topology.replicas,
            topology.redis_nodes,
        )


def _pick(frame: pd.DataFrame, metrics: tuple[str, ...], sources: tuple[str, ...]) -> pd.DataFrame:
    return frame[frame["metric"].isin(metrics) & frame["source"].isin(sources)]


def hit_ratio(cache: pd.DataFrame) -> pd.DataFrame:
    """Hits / (hits + misses) in percent, from ``lines(..., "metric")`` of both counts."""
    if cache.empty:
        return cache
    table = cache.pivot_table(index="time", columns="line", values="value", aggfunc="sum")
    total = table.sum(axis=1).replace(0, float("nan"))
    hits = table.get("CacheHits", 0.0)
    ratio = (100 * hits / total).rename("value").reset_index()
    return ratio.assign(line="hit ratio")[["time", "line", "value"]]


def charts(frame: pd.DataFrame, sources: Sources) -> None:
    """Draw every chart from one downsampled frame."""
    load = (LOAD_SOURCE,)
    hits = ("CacheHits", "CacheMisses")
    cache = lines(_pick(frame, hits, sources.redis), "metric")
    origin = "ElastiCache nodes"
    if cache.empty:  # no collector data: the application's own counts
        cache, origin = lines(_pick(frame, hits, load), "metric"), "application"
    left, right = st.columns(2)
    with left:
        line_chart(f"Cache hits and misses ({origin})", cache, "per second")
    with right:
        line_chart("Cache hit ratio", hit_ratio(cache), "%")
    left, right = st.columns(2)
    with left:
        proxy = _pick(frame, ("ClientConnections", "DatabaseConnections"), (sources.proxy,))
        line_chart("Proxy: client vs database connections", lines(proxy, "metric"), "connections")
    with right:
        nodes = _pick(frame, ("DatabaseConnections",), sources.postgres)
        line_chart("Database connections per node", lines(nodes, "source"), "connections")
    left, right = st.columns(2)
    with left:
        requests = pd.concat(
            [
                _pick(frame, ("QueryRequests",), (sources.proxy,)),
                _pick(frame, ("Requests",), load),
            ]
        )
        names = {"QueryRequests": "proxy queries", "Requests": "application requests"}
        line_chart("Query requests", lines(requests, "metric", names), "per second")
    with right:
        latency = _pick(frame, ("RequestLatencyP50", "RequestLatencyP99"), load)
        names = {"RequestLatencyP50": "p50", "RequestLatencyP99": "p99"}
        line_chart("Application latency", lines(latency, "metric", names), "ms")
    left, right = st.columns(2)
    with left:
        line_chart("Errors", lines(_pick(frame, ("Errors",), load), "metric"), "per second")
    with right:
        lag = _pick(frame, ("ReplicaLag",), sources.replicas)
        line_chart("Replica lag", lines(lag, "source"), "seconds")
    left, right = st.columns(2)
    with left:
        conns = _pick(frame, ("CurrConnections",), sources.redis)
        line_chart("Redis connections", lines(conns, "source"), "connections")
    with right:
        evictions = _pick(frame, ("Evictions",), sources.redis)
        line_chart("Redis evictions", lines(evictions, "source"), "per second")


def render() -> None:
    """The page."""
    h = handles()
    st.title("Metrics")
    cols = st.columns([2, 1, 3])
    window_name = cols[0].selectbox("Window", list(WINDOWS), index=0, key="metrics-window")
    live = cols[1].toggle("Live", value=True, key="metrics-live")
    window = WINDOWS[window_name or "5 minutes"]
    sources = Sources.of(h.topology())

    @st.fragment(run_every=1 if live else None)
    def panel() -> None:
        newest = h.metrics.latest_ts()
        if newest is None:
            st.info(
                f"No metrics in `{h.state.metrics_file}` yet: start some load "
                "(Load page, or `rdsbox load`)."
            )
            return
        # Live: the window ends now. Paused, or a sandbox long stopped: at the newest sample.
        end = time.time() if live and time.time() - newest < window else newest + 1
        bucket = bucket_seconds(window)
        frame = h.metrics.series(METRICS, end - window, end, bucket)
        st.caption(
            f"{window_name} to {time.strftime('%H:%M:%S', time.localtime(end))}, "
            f"{bucket:g} s per point"
        )
        charts(frame, sources)

    panel()


if __name__ == "__main__":
    render()
