"""Scenarios: run a built-in scenario (`rdsbox scenario run` in the background) and read
its report: the variants' figures side by side (direct vs proxy), expectations, charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import scenario_runs as runs
from dashboard.handles import Handles, handles
from dashboard.widgets import line_chart


def launcher(h: Handles, entries: list[runs.ScenarioEntry]) -> None:
    """Pick a scenario, see what it does, run it."""
    names = [e.name for e in entries]
    name = st.selectbox("Scenario", names, key="scenario-name")
    entry = next(e for e in entries if e.name == name)
    st.markdown(entry.description or "_(no description)_")
    st.caption(f"variants: {', '.join(entry.variants)} · file: `{entry.path}`")
    if not runs.runner_available():
        st.info(
            "This build has no scenario runner (`rdsbox scenario run`) yet: the scenario "
            "files are listed for reading."
        )
        with st.expander("Scenario file"):
            st.code(entry.path.read_text(), language="yaml")
        return
    cols = st.columns(3)
    cols[0].toggle("Short (a few seconds per phase)", value=True, key="scenario-short")
    cols[1].toggle("Use the running sandbox where it fits", value=False, key="scenario-use-running")
    job = h.job("scenario")

    def run() -> None:  # a callback: never lost to the progress panel's timed rerun
        if job.running():
            return
        state = st.session_state
        args = runs.run_args(
            entry.name,
            runs.new_run_dir(h.state, entry.name),
            bool(state["scenario-short"]),
            bool(state["scenario-use-running"]),
        )
        job.start(args)

    cols[2].button("Run", key="scenario-run", type="primary", disabled=job.running(), on_click=run)


def report_view(directory: Path) -> None:
    """One run's report."""
    report = runs.load_report(directory)
    scenario: dict[str, Any] = report.get("scenario") or {}
    passed = report.get("passed")
    headline = f"{scenario.get('name', directory.name)}: " + (
        "every expectation holds" if passed else "an expectation failed"
    )
    (st.success if passed else st.error)(headline)
    table = runs.figures_table(report)
    if table:
        st.markdown("**Figures, variants side by side**")
        st.dataframe(pd.DataFrame(table).T, width="stretch")
    expectations = report.get("expectations") or []
    if expectations:
        st.markdown("**Expectations**")
        st.dataframe(pd.DataFrame(expectations), hide_index=True, width="stretch")
    charts = runs.series_by_metric(report)
    names = list(charts)
    for left, right in zip(names[::2], [*names[1::2], None], strict=True):
        cols = st.columns(2)
        for column, metric in zip(cols, (left, right), strict=True):
            if metric is None:
                continue
            lines = {variant: pd.Series(dict(points)) for variant, points in charts[metric].items()}
            with column:
                line_chart(metric, pd.DataFrame(lines), "by seconds since the variant began")
    markdown = directory / "report.md"
    if markdown.exists():
        with st.expander("report.md"):
            st.markdown(markdown.read_text())


def render() -> None:
    """The page."""
    h = handles()
    st.title("Scenarios")
    entries = runs.discover()
    if not entries:
        st.info(f"No scenario files found (looked in `{runs.REPO_SCENARIOS}`).")
    else:
        with st.container(border=True):
            launcher(h, entries)

    @st.fragment(run_every=1)
    def progress() -> None:
        job = h.job("scenario")
        args = (job.info() or {}).get("args", [])
        if job.running():
            st.session_state["scenario-was-running"] = True
            st.info(f"Running `rdsbox {' '.join(args)}`")
            st.code("\n".join(job.output(10)), language=None)
        elif st.session_state.pop("scenario-was-running", False):
            st.rerun()  # the whole page: the new report joins the list
        elif "--out" in args and not (Path(args[args.index("--out") + 1]) / "report.json").exists():
            st.error("The last run left no report:\n\n```\n" + "\n".join(job.output(12)) + "\n```")

    progress()
    done = runs.reports(h.state)
    if done:
        chosen = st.selectbox("Report", done, format_func=lambda p: p.name, key="scenario-report")
        if chosen is not None:
            report_view(chosen)


if __name__ == "__main__":
    render()
