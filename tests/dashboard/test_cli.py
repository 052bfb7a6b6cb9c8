"""`rdsbox demo --dashboard`: the tour, then a background load and the dashboard, until
stopped; stopping it stops streamlit."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request

import pytest

from sandbox.cli.dashboard import DEMO_LOAD
from sandbox.jobs import Job
from sandbox.statedir import StateDir
from tests.support import RDSBOX, Sandbox, listening, wait_for

pytestmark = pytest.mark.integration


def test_demo_dashboard_runs_the_tour_then_load_and_dashboard(sandbox: Sandbox) -> None:
    port = sandbox.port_base + 7  # the topology's dashboard port
    job = Job(StateDir(sandbox.state_dir), "load")
    proc = subprocess.Popen(
        [RDSBOX, "--state-dir", str(sandbox.state_dir), "demo", "--dashboard"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")},
        start_new_session=True,
    )
    try:

        def healthy() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as answer:
                return answer.status == 200

        wait_for(healthy, timeout=60, interval=0.2)
        assert job.running()
        assert (job.info() or {})["args"] == DEMO_LOAD
        proc.send_signal(signal.SIGTERM)  # rdsbox only: it must stop its streamlit
        out, err = proc.communicate(timeout=30)
        assert "cache-aside read, second time" in out  # the tour ran first, unchanged
        assert f"background load: rdsbox {' '.join(DEMO_LOAD)}" in err
        wait_for(lambda: not listening(port), timeout=15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        job.stop()
