"""Fixtures of the dashboard tests: the app under ``streamlit.testing`` pointed at a state
dir, and state dirs holding an hour of synthetic metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import dashboard
from dashboard.demo_data import write_history
from sandbox.config import config_from_mapping
from sandbox.topology import Topology

APP = Path(dashboard.__file__).resolve().parent / "app.py"
OpenPage = Callable[[Path, str], AppTest]


@pytest.fixture
def open_page(monkeypatch: pytest.MonkeyPatch) -> OpenPage:
    """Run the app for a state dir and switch to a page (``architecture``, ``metrics``...);
    fails on any exception the page raised."""

    def run(state_dir: Path, page: str) -> AppTest:
        monkeypatch.setenv("RDSBOX_STATE_DIR", str(state_dir))
        app = AppTest.from_file(str(APP), default_timeout=60)
        app.run()
        app.switch_page(f"views/{page}.py")
        app.run()
        assert not app.exception, app.exception
        return app

    return run


@pytest.fixture
def history_dir(tmp_path: Path) -> Path:
    """A state dir of a stopped sandbox (default topology) with the last hour of metrics."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    config = config_from_mapping({})
    (state_dir / "config.json").write_text(config.model_dump_json())
    write_history(state_dir / "metrics.db", Topology(config), time.time(), seconds=3600)
    return state_dir


def texts(app: AppTest) -> str:
    """Every markdown, caption, info, warning, success and error text of the page."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "info", "warning", "success", "error", "title"):
        parts += [str(element.value) for element in getattr(app, kind)]
    return "\n".join(parts)
