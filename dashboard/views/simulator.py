"""Simulator: what-if runs of a built-in scenario in the discrete-event model (in this
process, no servers), with knobs for the main settings, charts of the result, and the
sandbox's measured run of the same scenario beside it when the state dir holds one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from dashboard import sim_runs
from dashboard.handles import handles
from dashboard.widgets import line_chart
from sandbox.config.instance_classes import known_instance_classes
from sandbox.errors import RdsboxError

KEEP = "scenario's"
"""The choice that leaves a setting as the scenario (and its variants) set it."""


@st.cache_data(max_entries=64, show_spinner=False)
def _simulate(
    knobs: sim_runs.Knobs, cwd: str, calibration: str | None, stamp: float
) -> list[sim_runs.SimRun]:
    """Cached per knob set and calibration file version (``stamp``: its mtime)."""
    return sim_runs.simulate_scenario(knobs, Path(cwd), Path(calibration) if calibration else None)


def _scenario_load(name: str) -> dict[str, Any]:
    """The scenario's own load options (for the inputs' placeholders)."""
    from simulator.scenarios import find_scenario, load_scenario

    try:
        return dict(load_scenario(find_scenario(name, Path.cwd())).load)
    except RdsboxError:
        return {}


def knobs() -> sim_runs.Knobs:
    """The inputs, keyed ``sim-*``; an empty input keeps the scenario's value."""
    from simulator.scenarios import builtin_names

    names = builtin_names()
    default = names.index("failover-under-load") if "failover-under-load" in names else 0
    name = st.selectbox("Scenario", names, index=default, key="sim-scenario") or names[0]
    load = _scenario_load(name)
    row = st.columns(4)
    duration = row[0].slider(
        "Duration (s; phases and faults scale to it)", 1, 300, 20, key="sim-duration"
    )
    rate = row[1].number_input(
        "Rate (requests/s)",
        min_value=1.0,
        value=None,
        placeholder=f"{KEEP}: {load.get('rate', 'default')}",
        key="sim-rate",
    )
    clients = row[2].number_input(
        "Clients (one connection each)",
        min_value=1,
        value=None,
        step=1,
        placeholder=KEEP,
        key="sim-clients",
    )
    ttl = row[3].number_input(
        "Cache TTL (s)",
        min_value=0.1,
        value=None,
        placeholder=f"{KEEP}: {load.get('ttl', 60)}",
        key="sim-ttl",
    )
    row = st.columns(4)
    percent = row[0].number_input(
        "Proxy max_connections_percent",
        min_value=1,
        max_value=100,
        value=None,
        step=1,
        placeholder=KEEP,
        key="sim-pool-percent",
    )
    instance = row[1].selectbox(
        "Instance class", [KEEP, *known_instance_classes()], key="sim-instance"
    )
    profile = row[2].radio(
        "Timing profile", [KEEP, "fast", "aws"], horizontal=True, key="sim-profile"
    )
    return sim_runs.Knobs(
        scenario=name,
        duration=float(duration),
        rate=None if rate is None else float(rate),
        clients=None if clients is None else int(clients),
        ttl=None if ttl is None else float(ttl),
        max_connections_percent=None if percent is None else int(percent),
        instance_class=None if instance in (None, KEEP) else str(instance),
        profile=None if profile in (None, KEEP) else str(profile),
    )


def results(runs: list[sim_runs.SimRun]) -> None:
    """The summary table and the per-second charts, a line per variant."""
    st.markdown("**Simulated, per variant**")
    st.dataframe(sim_runs.summary_table(runs), width="stretch")
    wall = sum(run.wall_s for run in runs)
    st.caption(f"{len(runs)} variant(s) simulated in {wall:.2f} s of wall-clock time.")
    metrics = list(sim_runs.SERIES.items())
    for pair in (metrics[:2], metrics[2:]):
        cols = st.columns(2)
        for column, (metric, (title, unit)) in zip(cols, pair, strict=True):
            with column:
                line_chart(title, sim_runs.chart_data(runs, metric), unit)


def measured(runs: list[sim_runs.SimRun], scenario: str) -> None:
    """The newest measured report of the scenario beside the simulation, if any."""
    found = sim_runs.measured_report(handles().state, scenario)
    if found is None:
        st.caption(
            f"No measured run of `{scenario}` in this state dir yet: run it on the "
            "Scenarios page (or `rdsbox scenario run`) to see the sandbox beside the model."
        )
        return
    directory, report = found
    st.markdown(f"**Measured in the sandbox** (report `{directory.name}`)")
    table = sim_runs.side_by_side(runs, report)
    if table.empty:
        st.caption("The report has no variant of the same name as a simulated one.")
        return
    durations = {str(v.get("name")): v.get("duration_s") for v in report.get("variants") or []}
    short = " (short form)" if (report.get("scenario") or {}).get("short") else ""
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={"difference": st.column_config.NumberColumn(format="percent")},
    )
    st.caption(
        f"Difference: (simulated - measured) / measured. The measured run{short} took "
        + ", ".join(f"{name} {seconds} s" for name, seconds in durations.items())
        + "; counts (ops, errors) scale with the duration, rates and percentiles do not."
    )


def render() -> None:
    """The page."""
    st.title("Simulator")
    st.caption(
        "The architecture as a discrete-event model (`rdsbox sim run`): every variant of "
        "the scenario with your settings, simulated here in seconds."
    )
    with st.container(border=True):
        chosen = knobs()
        run = st.button("Run", key="sim-run", type="primary")
    if run:
        st.session_state["sim-last"] = chosen
    last: sim_runs.Knobs | None = st.session_state.get("sim-last")
    if last is None:
        st.info("Pick the settings and press Run.")
        return
    if last != chosen:
        st.caption("Showing the last run; the settings have changed since (press Run).")
    from simulator.calibration import state_calibration

    calibration = state_calibration(handles().state)
    stamp = calibration.stat().st_mtime if calibration.is_file() else 0.0
    try:
        with st.spinner(f"Simulating {last.scenario}…"):
            runs = _simulate(
                last, str(Path.cwd()), str(calibration) if calibration.is_file() else None, stamp
            )
    except RdsboxError as exc:
        st.error(str(exc))
        return
    st.caption(
        "Calibration: "
        + (
            f"`{calibration}`"
            if calibration.is_file()
            else "built-in figures (no `rdsbox sim calibrate` yet)"
        )
    )
    results(runs)
    measured(runs, last.scenario)


if __name__ == "__main__":
    render()
