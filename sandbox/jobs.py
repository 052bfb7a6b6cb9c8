"""`rdsbox` commands run in the background for one sandbox (the dashboard's load, scenario
runs and `up`), tracked by a pid file in the state dir.

A job that belongs to the running sandbox (the load) keeps its pid file in ``STATE/run/``,
so `rdsbox down` stops it together with the servers; others (`up` itself, which sweeps
``run/`` before it starts, and scenario runs, which start their own sandboxes) keep it in
``STATE/jobs/``. The output goes to ``STATE/logs/job-NAME.log``; ``job-NAME.json`` beside
the pid file remembers the command line and when it started, so another dashboard session
(or `rdsbox demo --dashboard`) sees the same job.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.process import PidRecord, spawn, stop_recorded, tail
from sandbox.statedir import StateDir


def rdsbox_argv(state: StateDir, *args: str) -> list[str]:
    """The command line of `rdsbox --state-dir STATE ARGS` with this interpreter's rdsbox."""
    script = Path(sys.executable).parent / "rdsbox"
    program = [str(script)] if script.exists() else [sys.executable, "-m", "sandbox"]
    return [*program, "--state-dir", str(state.root), *args]


@dataclass(frozen=True)
class Job:
    """One named background command of one sandbox (at most one per name at a time)."""

    state: StateDir
    name: str
    #: Stopped with the sandbox (`rdsbox down`, and the sweep before `rdsbox up`).
    swept: bool = True

    @property
    def folder(self) -> Path:
        """Where the pid and info files live (``run/`` is swept by `down` and `up`)."""
        return self.state.run if self.swept else self.state.root / "jobs"

    @property
    def pid_path(self) -> Path:
        """Pid file of the job's process."""
        return self.folder / f"job-{self.name}.pid"

    @property
    def log_path(self) -> Path:
        """Where the command's stdout and stderr go."""
        return self.state.log_file(f"job-{self.name}")

    @property
    def info_path(self) -> Path:
        """Command line and start time of the last run."""
        return self.folder / f"job-{self.name}.json"

    def start(self, args: Sequence[str], cwd: Path | None = None) -> dict[str, Any]:
        """Run `rdsbox --state-dir STATE ARGS` in its own session; return its info.

        A job of the same name that still runs is stopped first: one load at a time."""
        self.stop()
        self.state.ensure()
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self.log_path.write_text("")  # each run's log starts empty
        argv = rdsbox_argv(self.state, *args)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = spawn(argv, self.log_path, self.pid_path, cwd=cwd, env=env)
        info = {"args": list(args), "pid": proc.pid, "started_at": time.time()}
        self.info_path.write_text(json.dumps(info))
        return info

    def running(self) -> bool:
        """Whether the job's process is still there."""
        record = PidRecord.read(self.pid_path)
        return record is not None and record.alive()

    def info(self) -> dict[str, Any] | None:
        """Command line (``args``), ``pid`` and ``started_at`` of the last run, if any."""
        try:
            return dict(json.loads(self.info_path.read_text()))
        except (OSError, ValueError):
            return None

    def stop(self) -> bool:
        """Stop the job (SIGINT first, as Ctrl-C would); True if it was running."""
        return stop_recorded(self.pid_path, signal.SIGINT, timeout=5.0)

    def output(self, lines: int = 20) -> list[str]:
        """The last lines of its output."""
        return tail(self.log_path, lines)
