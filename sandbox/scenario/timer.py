"""Timed faults: a thread that applies a scenario's faults at their times through the
control API, resolving role aliases (``primary`` ...) from the status at that moment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sandbox.client import ControlClient
from sandbox.errors import RdsboxError
from sandbox.scenario.model import TimedFault

# alias -> (component kind, role) in `rdsbox status --json`
ALIASES: Mapping[str, tuple[str, str]] = {
    "primary": ("postgres", "primary"),
    "standby": ("postgres", "standby"),
    "replica": ("postgres", "replica"),
    "cache_primary": ("redis", "primary"),
}


def resolve_target(target: str | None, status: Mapping[str, Any]) -> str | None:
    """A role alias -> the name of the (first) component holding that role now; any other
    name is passed on unchanged (the supervisor checks it).

    Raises:
        RdsboxError: the alias names a role no component has (e.g. no standby).
    """
    if target is None or target not in ALIASES:
        return target
    kind, role = ALIASES[target]
    for component in status.get("components", []):
        if component.get("kind") == kind and component.get("role") == role:
            return str(component["name"])
    raise RdsboxError(f"no {kind} component has the role {role} now (fault target '{target}')")


class FaultTimer:
    """Applies ``faults`` at ``t0 + at`` (monotonic); records what happened in
    :attr:`timeline`. Start with :meth:`start`, always :meth:`stop`."""

    def __init__(
        self,
        client: ControlClient,
        faults: Sequence[TimedFault],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.faults = sorted(faults, key=lambda f: f.at)
        self.progress = progress
        self.timeline: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scenario-faults", daemon=True)
        self.t0 = 0.0
        self.wall0 = 0.0

    def start(self) -> None:
        """Start the clock of the faults now."""
        self.t0, self.wall0 = time.monotonic(), time.time()
        self._thread.start()

    def stop(self) -> None:
        """Fire no more faults; wait for one in progress."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(150)

    def _run(self) -> None:
        for fault in self.faults:
            if self._stop.wait(max(0.0, self.t0 + fault.at - time.monotonic())):
                return
            self.timeline.append(self.fire(fault))

    def fire(self, fault: TimedFault) -> dict[str, Any]:
        """Apply one fault now; the timeline entry (``ok`` false with the error on failure)."""
        fired = time.monotonic() - self.t0
        entry: dict[str, Any] = {
            "at": fault.at,
            "fired_at": round(fired, 3),
            "fired_ts": self.wall0 + fired,
            "fault": fault.fault,
            "target": fault.target,
            "seconds": fault.seconds,
            "options": dict(fault.options),
        }
        try:
            resolved = resolve_target(fault.target, self.client.status())
            entry["resolved"] = resolved
            entry["result"] = self.client.fault(
                fault.fault, resolved, fault.seconds, **fault.options
            )
            entry["ok"] = True
        except RdsboxError as exc:
            entry["ok"], entry["result"] = False, str(exc)
        if self.progress is not None:
            self.progress(f"[{fired:6.2f}s] fault {fault.fault}: {entry['result']}")
        return entry
