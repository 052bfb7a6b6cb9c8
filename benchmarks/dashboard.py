#!/usr/bin/env python3
"""Dashboard render benchmark: time to the first full render of each page with an hour of
one-second metrics in the store.

Setup: a real sandbox (default topology) in a fresh state dir, and a synthetic hour of
every series the collector and the load generator write (``dashboard.demo_data``, the real
schema: about 220 000 samples) in its ``metrics.db``.

Measured, per page and repetition: a new session (``streamlit.testing.v1.AppTest``, the
same script run a browser session gets, without the browser's drawing) opens the app, then
the page; the page's run is timed (wall clock, and the CPU time of this process, which
shows what the page itself costs when other programs share the machine). The Metrics page
is opened on its "1 hour" window.

Anchor: the downsampling SQL alone over the same hour (what the Metrics page cannot do
without). Target: median <= 2.0 s per page. Medians of --repeat.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from _common import REPO, Sandbox, log, median, terminate_on_sigterm

# This file is dashboard.py, and its folder comes first on sys.path: without this, `import
# dashboard` would find the benchmark, not the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from streamlit.testing.v1 import AppTest  # noqa: E402

from dashboard.demo_data import write_history  # noqa: E402
from dashboard.timeseries import MetricsReader, bucket_seconds  # noqa: E402
from dashboard.views.metrics import METRICS  # noqa: E402
from sandbox.config import SandboxConfig  # noqa: E402
from sandbox.topology import Topology  # noqa: E402

TARGET_S = 2.0
APP = REPO / "dashboard" / "app.py"
PAGES = ("architecture", "metrics", "faults", "load", "scenarios")


def render_once(page: str) -> tuple[float, float]:
    """(wall, cpu) seconds of one first render of ``page`` in a new session."""
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.session_state["metrics-window"] = "1 hour"
    if page != "architecture":  # the default page, which the first run shows
        app.run()
        app.switch_page(f"views/{page}.py")
    wall, cpu = time.perf_counter(), time.process_time()
    app.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if app.exception:
        raise RuntimeError(f"page {page} failed: {app.exception[0].message}")
    return wall, cpu


def query_once(path: Path) -> float:
    """Seconds of the Metrics page's downsampling query over the last hour."""
    reader = MetricsReader(path)
    began = time.perf_counter()
    end = time.time()
    reader.series(METRICS, end - 3600, end, bucket_seconds(3600))
    elapsed = time.perf_counter() - began
    reader.close()
    return elapsed


def main() -> None:
    """Run the benchmark and print one line per page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="renders per page (median)")
    parser.add_argument("--port-base", type=int, default=21200, help="the sandbox's ports")
    args = parser.parse_args()
    terminate_on_sigterm()
    # Setting session state before a run warns about a missing run context: expected here.
    quiet = "streamlit.runtime.scriptrunner_utils.script_run_context"
    logging.getLogger(quiet).setLevel(logging.ERROR)
    box = Sandbox(args.port_base)
    try:
        log("starting a sandbox …")
        box.up()
        os.environ["RDSBOX_STATE_DIR"] = str(box.state_dir)
        config = SandboxConfig.model_validate_json((box.state_dir / "config.json").read_text())
        metrics = box.state_dir / "metrics.db"
        log("writing an hour of one-second metrics …")
        samples = write_history(metrics, Topology(config), time.time(), seconds=3600)
        render_once("architecture")  # imports and caches: not a session's cost
        query = median([query_once(metrics) for _ in range(args.repeat)])
        print(f"store: {samples} samples; downsampling query (anchor): {query:.3f} s")
        print(f"{'page':<14}{'median s':>10}{'cpu s':>8}{'target s':>10}{'ratio':>8}")
        for page in PAGES:
            runs = [render_once(page) for _ in range(args.repeat)]
            wall = median([w for w, _ in runs])
            cpu = median([c for _, c in runs])
            print(f"{page:<14}{wall:>10.3f}{cpu:>8.3f}{TARGET_S:>10.1f}{wall / TARGET_S:>8.2f}")
    finally:
        box.down()


if __name__ == "__main__":
    main()
