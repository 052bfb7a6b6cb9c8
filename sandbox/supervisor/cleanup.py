"""Stopping whatever a state dir's pid files name: the supervisor first, then its servers.

Works whether the supervisor is alive, hung or was SIGKILLed; pid numbers reused by other
programs are recognised by their start time and left alone.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sandbox.process import PidRecord, stop_recorded
from sandbox.statedir import StateDir

SUPERVISOR = "supervisor"


def live_records(state: StateDir) -> dict[str, PidRecord]:
    """Processes of this sandbox that are still running, by name."""
    found: dict[str, PidRecord] = {}
    if not state.run.is_dir():
        return found
    for path in sorted(state.run.glob("*.pid")):
        record = PidRecord.read(path)
        if record is not None and record.alive():
            found[path.stem] = record
    return found


def supervisor_record(state: StateDir) -> PidRecord | None:
    """The live supervisor of this state dir, if any."""
    return live_records(state).get(SUPERVISOR)


def sweep(state: StateDir, timeout: float = 10.0) -> list[str]:
    """Stop every recorded process (supervisor first); return the names stopped."""
    stopped: list[str] = []
    if not state.run.is_dir():
        return stopped
    if stop_recorded(state.pid_file(SUPERVISOR), timeout=timeout):
        stopped.append(SUPERVISOR)
    paths = [p for p in sorted(state.run.glob("*.pid")) if p.stem != SUPERVISOR]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda p: stop_recorded(p, timeout=timeout), paths))
    stopped += [p.stem for p, done in zip(paths, results, strict=True) if done]
    return stopped
