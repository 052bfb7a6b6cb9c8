"""Every dashboard page under ``streamlit.testing.v1.AppTest``, against a running sandbox
where the page needs one, and against a state dir without one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sandbox.jobs import Job
from sandbox.metrics.store import MetricsStore
from sandbox.statedir import StateDir
from sandbox.supervisor.faults import FAULTS
from tests.dashboard.conftest import OpenPage, texts
from tests.support import Sandbox, wait_for

PAGES = ("architecture", "metrics", "faults", "load", "scenarios", "simulator")


@pytest.mark.integration
def test_architecture_shows_roles_health_endpoints_and_events(
    sandbox: Sandbox, open_page: OpenPage
) -> None:
    status = sandbox.status()
    (primary,) = sandbox.component(status, "postgres", "primary")
    (cache_primary,) = sandbox.component(status, "redis", "primary")
    app = open_page(sandbox.state_dir, "architecture")
    shown = texts(app)
    assert f"Database primary  \n**{primary['name']}**" in shown
    assert f"Cache primary  \n**{cache_primary['name']}**" in shown
    (diagram,) = app.get("graphviz_chart")
    dot = diagram.proto.spec
    for component in status["components"]:
        assert f'"{component["name"]}"' in dot
        assert f":{component['port']}" in dot
    assert f"writer endpoint :{status['endpoints']['writer']['port']}" in dot
    assert "Events" in [h.value for h in app.subheader]
    assert app.button(key="arch-db-failover").label == "Fail over the database"


@pytest.mark.integration
def test_every_fault_has_a_control_and_a_click_calls_the_control_api(
    sandbox: Sandbox, open_page: OpenPage
) -> None:
    app = open_page(sandbox.state_dir, "faults")
    keys = {button.key for button in app.button}
    assert {f"fault-{name}" for name in FAULTS} | {"fault-promote-replica"} <= keys
    assert app.number_input(key="fault-ms").value == 50.0  # latency has its options

    events = sandbox.state_dir / "events.jsonl"
    before = events.read_text().count("All connections reset.")
    app.selectbox(key="fault-endpoint").set_value("reader")
    app.button(key="fault-reset").click().run()

    def answered() -> bool:
        app.run()
        return any("fault reset reader" in s.value for s in app.success)

    wait_for(answered, timeout=20)
    assert events.read_text().count("All connections reset.") == before + 1
    assert any("All connections reset." in str(df.value) for df in app.dataframe)


@pytest.mark.integration
def test_load_page_starts_and_stops_the_generator(sandbox: Sandbox, open_page: OpenPage) -> None:
    app = open_page(sandbox.state_dir, "load")
    app.number_input(key="load-rate").set_value(50.0)
    app.number_input(key="load-duration").set_value(60.0)
    app.run()
    assert "rdsbox load --rate 50 --duration 60" in app.code[0].value
    started = time.time()
    app.button(key="load-start").click().run()
    job = Job(StateDir(sandbox.state_dir), "load")
    try:
        assert job.running()
        store = MetricsStore(sandbox.state_dir / "metrics.db")
        wait_for(lambda: store.query(since=started, metrics=["Requests"], sources=["load"]), 30)
        store.close()
        app.run()
        assert any("Running for" in s.value for s in app.success)
        assert app.get("vega_lite_chart"), "throughput and latency charts"
        app.button(key="load-stop").click().run()
        assert not job.running()
    finally:
        job.stop()


def test_metrics_page_draws_every_chart_from_an_hour_of_samples(
    history_dir: Path, open_page: OpenPage
) -> None:
    app = open_page(history_dir, "metrics")
    assert len(app.get("vega_lite_chart")) == 10
    app.selectbox(key="metrics-window").set_value("1 hour").run()
    assert not app.exception
    assert len(app.get("vega_lite_chart")) == 10
    assert "no data yet" not in texts(app)
    assert "12 s per point" in texts(app)  # an hour in 300 points


def test_without_a_sandbox_each_page_says_how_to_start_one(
    tmp_path: Path, open_page: OpenPage
) -> None:
    state_dir = tmp_path / "nothing"
    for page in ("architecture", "faults", "load"):
        app = open_page(state_dir, page)
        assert "No sandbox is running" in texts(app), page
        assert f"rdsbox --state-dir {state_dir} up" in texts(app), page
        assert app.button(key="start-sandbox").label == "Start the sandbox"
    assert "No metrics" in texts(open_page(state_dir, "metrics"))
    open_page(state_dir, "scenarios")


def test_scenarios_page_shows_a_report_with_the_variants_side_by_side(
    tmp_path: Path, open_page: OpenPage
) -> None:
    state_dir = tmp_path / "state"
    run = state_dir / "scenarios" / "20260101-000000-failover"
    run.mkdir(parents=True)
    series = {"Requests": [[1.7e9 + t, 100.0] for t in range(5)]}
    report = {
        "scenario": {"name": "failover"},
        "passed": True,
        "variants": [
            {"name": "direct", "figures": {"ops": 500, "errors": 12}, "series": series},
            {"name": "proxy", "figures": {"ops": 500, "errors": 0}, "series": series},
        ],
        "expectations": [
            {"metric": "errors", "variant": "proxy", "value": 0, "passed": True, "reason": ""}
        ],
    }
    (run / "report.json").write_text(json.dumps(report))
    app = open_page(state_dir, "scenarios")
    assert "failover: every expectation holds" in texts(app)
    figures = app.dataframe[0].value
    assert list(figures.columns) == ["direct", "proxy"]
    assert figures.loc["errors"].tolist() == [12, 0]
    assert len(app.get("vega_lite_chart")) == 1


def test_simulator_page_runs_the_model_and_sets_the_measured_run_beside_it(
    tmp_path: Path, open_page: OpenPage
) -> None:
    state_dir = tmp_path / "state"
    run = state_dir / "scenarios" / "20260101-000000-cache-aside-vs-none"
    run.mkdir(parents=True)
    measured = {"ops": 1000, "errors": 0, "throughput": 100.0, "latency_ms.p99": 4.0}
    report = {
        "scenario": {"name": "cache-aside-vs-none", "short": True},
        "variants": [{"name": "cache-aside", "duration_s": 10.0, "figures": measured}],
    }
    (run / "report.json").write_text(json.dumps(report))
    app = open_page(state_dir, "simulator")
    assert "press Run" in texts(app)
    app.selectbox(key="sim-scenario").set_value("cache-aside-vs-none")
    app.slider(key="sim-duration").set_value(2)
    app.number_input(key="sim-rate").set_value(100.0)
    app.button(key="sim-run").click().run()
    assert not app.exception, app.exception
    summary = app.dataframe[0].value
    assert list(summary.index) == ["none", "cache-aside"]
    # 100 requests/s for 2 s, nearly all served.
    assert 150 <= summary.loc["cache-aside", "ops"] <= 250
    assert summary.loc["none", "hit ratio"] == 0
    assert summary.loc["cache-aside", "hit ratio"] > 0
    assert len(app.get("vega_lite_chart")) == 4
    beside = app.dataframe[1].value
    ops = beside[(beside["variant"] == "cache-aside") & (beside["figure"] == "ops")]
    assert ops["measured"].tolist() == [1000.0]
    assert ops["difference"].iloc[0] == pytest.approx(ops["simulated"].iloc[0] / 1000 - 1)
