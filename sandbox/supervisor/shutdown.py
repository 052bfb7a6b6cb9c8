"""`rdsbox down`: ask the supervisor to stop everything, then sweep what pid files still name."""

from __future__ import annotations

import shutil
from typing import Any

from sandbox.errors import RdsboxError, StateDirError
from sandbox.process import wait_until
from sandbox.statedir import StateDir
from sandbox.supervisor.cleanup import live_records, supervisor_record, sweep

# Generous: a supervisor stops postgres nodes with a checkpoint each.
_GRACEFUL_WAIT_S = 30.0


def _looks_like_state_dir(state: StateDir) -> bool:
    # --purge deletes a tree: only ever one that rdsbox made.
    return state.config_file.exists() or state.run.is_dir()


def shut_down(state: StateDir, purge: bool) -> dict[str, Any]:
    """Stop the sandbox in ``state``; with ``purge`` delete its data. Returns a summary."""
    graceful = False
    record = supervisor_record(state)
    if record is not None:
        from sandbox.client import ControlClient

        try:
            ControlClient(state).shutdown()
            graceful = wait_until(lambda: not record.alive(), _GRACEFUL_WAIT_S, 0.05)
        except RdsboxError:
            graceful = False
    leftovers = sorted(live_records(state))
    swept = sweep(state)
    purged = False
    if purge and state.root.exists():
        if not _looks_like_state_dir(state):
            raise StateDirError(
                f"{state.root} does not look like an rdsbox state dir (no config.json or run/); "
                f"not deleting it"
            )
        shutil.rmtree(state.root)
        purged = True
    return {
        "state_dir": str(state.root),
        "was_running": record is not None or bool(leftovers),
        "graceful": graceful,
        "swept": swept,
        "purged": purged,
    }
