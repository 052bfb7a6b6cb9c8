"""Timed faults: a thread that applies a scenario's faults at their times through the
control API, resolving role aliases (``primary`` ...) from the status at that moment.

A fault's ``at`` counts seconds of load, the phases laid end to end as the file lists them:
the timer waits for the phase the fault falls in to start its load (workers connected and
the table seeded take a moment, longer after a failover), then for the offset within it. So
a fault meant for the second phase never lands in the first one's warm-up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sandbox.client import ControlClient
from sandbox.errors import RdsboxError
from sandbox.scenario.fault_targets import resolve_target
from sandbox.scenario.model import Phase, TimedFault
from sandbox.scenario.shorten import phase_bounds


def place(at: float, phases: Sequence[Phase]) -> tuple[int, float]:
    """``(phase index, offset in it)`` of a time in seconds of load."""
    bounds = phase_bounds(tuple(phases))
    for index, (start, end) in enumerate(bounds):
        if at < end:
            return index, at - start
    return len(bounds) - 1, at - bounds[-1][0]


class FaultTimer:
    """Applies ``faults`` as the phases run; records what happened in :attr:`timeline`.

    :meth:`start` starts the variant's clock, :meth:`phase_started` marks each phase's
    load start; always :meth:`stop`."""

    def __init__(
        self,
        client: ControlClient,
        faults: Sequence[TimedFault],
        phases: Sequence[Phase],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.plan = sorted(((place(f.at, phases), f) for f in faults), key=lambda x: x[0])
        self.progress = progress
        self.timeline: list[dict[str, Any]] = []
        self._starts: dict[int, float] = {}
        self._changed = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="scenario-faults", daemon=True)
        self.t0 = 0.0
        self.wall0 = 0.0

    def start(self) -> None:
        """Start the variant's clock now."""
        self.t0, self.wall0 = time.monotonic(), time.time()
        self._thread.start()

    def phase_started(self, index: int) -> None:
        """Phase ``index`` starts its load now (only its first call counts)."""
        with self._changed:
            self._starts.setdefault(index, time.monotonic())
            self._changed.notify_all()

    def stop(self) -> None:
        """Fire no more faults; wait for one in progress."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(150)

    def _due(self, phase: int, offset: float) -> float | None:
        """Seconds until the fault is due (None while its phase has not started)."""
        start = self._starts.get(phase)
        return None if start is None else start + offset - time.monotonic()

    def _run(self) -> None:
        for (phase, offset), fault in self.plan:
            with self._changed:
                while not self._stopped:
                    due = self._due(phase, offset)
                    if due is not None and due <= 0:
                        break
                    self._changed.wait(due)
                if self._stopped:
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
