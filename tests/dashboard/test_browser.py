"""The dashboard in a real browser (headless Chromium over the DevTools protocol) against
a real sandbox: start the sandbox from the page, fail the database over from the
Architecture page, and see the new primary; a screenshot is kept as a test artifact."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.dashboard.cdp import Browser, find_chromium
from tests.support import RDSBOX, Sandbox, wait_for

pytestmark = pytest.mark.integration

ARTIFACTS = Path(
    os.environ.get("RDSBOX_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)
#: Just what a database failover needs: the Multi-AZ pair, the proxy, one cache node.
LEAN = {
    "database": {"read_replicas": 0},
    "cache": {"num_cache_clusters": 1, "automatic_failover_enabled": False},
}


@pytest.fixture
def chromium() -> str:
    """The Chromium binary (scripts/setup.sh --with-browser installs it; CI must have it)."""
    found = find_chromium()
    if found is None:
        message = "chromium not found; install it with `bash scripts/setup.sh --with-browser`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def dashboard(make_sandbox: Callable[..., Sandbox]) -> Iterator[tuple[Sandbox, str]]:
    """`rdsbox dashboard` for a sandbox that is not started yet; its address."""
    box = make_sandbox(LEAN)
    box.config_path.write_text(yaml.safe_dump(box.config))
    port = box.port_base + 7
    log = box.state_dir.parent / f"{box.state_dir.name}-dashboard.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                RDSBOX,
                "--state-dir",
                str(box.state_dir),
                "--port-base",
                str(box.port_base),
                "--config",
                str(box.config_path),
                "dashboard",
                "--no-browser",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout=60, interval=0.2)
        yield box, url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # rdsbox and the streamlit it started
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        box.rdsbox("down", "--purge", timeout=60)


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
        return answer.status == 200


def _shown_primary(browser: Browser) -> str:
    text = browser.text()
    if "Database primary" not in text:
        return ""
    return text.split("Database primary", 1)[1].split("Cache primary", 1)[0].strip()


def _node_fill(browser: Browser, name: str) -> str | None:
    script = (
        "(() => { const n = [...document.querySelectorAll('g.node')]"
        f".find(g => g.querySelector('title').textContent === '{name}');"
        " if (!n) return null; const s = n.querySelector('polygon, path, ellipse');"
        " return s ? s.getAttribute('fill') : null; })()"
    )
    value = browser.evaluate(script)
    return None if value is None else str(value)


def test_start_and_fail_over_from_the_architecture_page(
    chromium: str, dashboard: tuple[Sandbox, str]
) -> None:
    box, url = dashboard
    browser = Browser(chromium, debug_port=box.port_base + 8)
    shot = ARTIFACTS / "dashboard-failover.png"
    try:
        browser.open(url)
        wait_for(lambda: "No sandbox is running" in browser.text(), timeout=60, interval=0.2)
        wait_for(lambda: browser.click_button("Start the sandbox"), timeout=30, interval=0.2)
        first = wait_for(lambda: _shown_primary(browser), timeout=90, interval=0.2)
        assert first == "app-primary-db-a"
        wait_for(lambda: _node_fill(browser, first) == "#95d5b2", timeout=30, interval=0.2)

        wait_for(lambda: browser.click_button("Fail over the database"), timeout=30, interval=0.2)
        wait_for(lambda: _shown_primary(browser) == "app-primary-db-b", timeout=60, interval=0.2)
        # The diagram follows: the new primary is drawn as the primary.
        wait_for(lambda: _node_fill(browser, "app-primary-db-b") == "#95d5b2", 30, 0.2)
        wait_for(lambda: "failover" in browser.text().lower(), timeout=30, interval=0.2)
        assert box.status()["endpoint_router"]["routes"]["writer"] == ["app-primary-db-b"]
        assert browser.text().count("fault db-failover") == 1  # one click, one failover
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.screenshot(shot)
        print(f"screenshot: {shot}")
        browser.close()
