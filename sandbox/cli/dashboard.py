"""`rdsbox dashboard`: the Streamlit dashboard of this sandbox on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from sandbox.cli.app import Options, app, options
from sandbox.errors import ComponentFailedError, PortBusyError
from sandbox.services.base import HOST

PortOpt = Annotated[
    int | None,
    typer.Option(
        "--port",
        min=1,
        max=32767,
        help="Port of the dashboard (default: the sandbox's port base + 7).",
    ),
]
#: What `rdsbox demo --dashboard` keeps running: gentle, long, cache-aside through the proxy.
DEMO_LOAD = ["load", "--rate", "50", "--duration", "3600"]

NoBrowserOpt = Annotated[
    bool, typer.Option("--no-browser", help="Only print the address; do not open a browser.")
]


def default_port(opts: Options) -> int:
    """The topology's ``dashboard`` port: of the sandbox in the state dir when it was ever
    started, else of --port-base / the configuration."""
    from sandbox.config import SandboxConfig, load_config
    from sandbox.topology import Topology

    state = opts.state()
    if opts.port_base is None and state.config_file.exists():
        config = SandboxConfig.model_validate_json(state.config_file.read_text())
    else:
        config = load_config(opts.config, Path.cwd()).with_overrides(port_base=opts.port_base)
    return Topology(config).port("dashboard")


def streamlit_argv(port: int) -> list[str]:
    """`streamlit run dashboard/app.py` on 127.0.0.1:port, headless, no usage statistics."""
    import dashboard

    script = Path(dashboard.__file__).resolve().parent / "app.py"
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        f"--server.address={HOST}",
        f"--server.port={port}",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        "--global.developmentMode=false",
        "--client.toolbarMode=viewer",
    ]


def up_args(opts: Options) -> list[str]:
    """Global options the dashboard's start button passes on to `rdsbox up`."""
    args: list[str] = []
    if opts.config is not None:
        args += ["--config", str(opts.config.resolve())]
    if opts.port_base is not None:
        args += ["--port-base", str(opts.port_base)]
    return args


def serve(opts: Options, port: int | None, open_browser: bool) -> None:
    """Run the dashboard in the foreground until Ctrl-C."""
    from sandbox.topology import port_is_free

    chosen = port or default_port(opts)
    if not port_is_free(chosen):
        raise PortBusyError(
            f"port {chosen} on {HOST} is in use (another dashboard?); pick one with --port N"
        )
    env = {
        **os.environ,
        "RDSBOX_STATE_DIR": str(opts.state().root),
        "RDSBOX_DASHBOARD_UP_ARGS": json.dumps(up_args(opts)),
    }
    url = f"http://{HOST}:{chosen}"
    proc = subprocess.Popen(streamlit_argv(chosen), env=env, stdin=subprocess.DEVNULL)
    signal.signal(signal.SIGTERM, _interrupt)  # stopping rdsbox stops streamlit too
    try:
        _wait_healthy(url, proc)
        sys.stderr.write(f"rdsbox: dashboard at {url} (Ctrl-C to stop)\n")
        if open_browser and _has_display():
            webbrowser.open(url)
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _has_display() -> bool:
    # Without one, webbrowser would pick a text browser and take over the terminal.
    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def start_demo_load(opts: Options) -> str:
    """Start the demo's background load (unless one runs); say what runs."""
    from sandbox.jobs import Job

    job = Job(opts.state(), "load")
    if not job.running():
        job.start(DEMO_LOAD)
    info = job.info() or {}
    return "rdsbox " + " ".join(info.get("args", DEMO_LOAD))


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ComponentFailedError(
                f"streamlit exited with status {proc.returncode} before serving {url}; "
                "see its output above"
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise ComponentFailedError(f"the dashboard did not answer on {url} within {timeout:g} s")


@app.command()
def dashboard(ctx: typer.Context, port: PortOpt = None, no_browser: NoBrowserOpt = False) -> None:
    """Open the dashboard of this sandbox (Streamlit on 127.0.0.1): the live architecture,
    metrics, faults, load and scenarios. Runs until Ctrl-C."""
    serve(options(ctx), port, open_browser=not no_browser)
