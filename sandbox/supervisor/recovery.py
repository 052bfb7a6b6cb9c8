"""Recovery attempts of crashed components (restarts, rejoins): paced by back-off and
reported once per kind of failure.

Every path that brings a component back goes through :meth:`Recoveries.attempt`: a failed
attempt postpones the next one (``restart_backoff_initial_s`` doubling up to
``restart_backoff_max_s``), records an event only when it fails in a new way, and keeps
the latest full message under ``problems`` (`rdsbox status`); the first success after
failures records that the component recovered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sandbox.config.profiles import TimingProfile
from sandbox.services.base import ManagedServer
from sandbox.supervisor.backoff import Retry, after_failure, failure_kind, is_new_kind
from sandbox.supervisor.events import EventLog


class Recoveries:
    """Per-component back-off state of recovery attempts."""

    def __init__(
        self,
        events: EventLog,
        timing: TimingProfile,
        clock: Callable[[], float],
        problems: dict[str, str],
    ) -> None:
        self.events = events
        self.timing = timing
        self.clock = clock
        #: Why a component could not be brought back (shared with the HA memory).
        self.problems = problems
        self.retries: dict[str, Retry] = {}

    def due(self, name: str) -> bool:
        """Whether a recovery attempt of ``name`` may run now (back-off has passed)."""
        retry = self.retries.get(name)
        return retry is None or self.clock() >= retry.next_at

    def failures(self, name: str) -> int:
        """Failed attempts in a row of ``name``'s current recovery."""
        retry = self.retries.get(name)
        return 0 if retry is None else retry.failures

    def forget(self, name: str) -> None:
        """Start afresh (the component changed role or was recovered another way)."""
        self.retries.pop(name, None)
        self.problems.pop(name, None)

    def attempt(self, server: ManagedServer, done: str, action: Callable[[], None]) -> None:
        """Run one recovery attempt of ``server`` (``done``: "restarted", "rejoined").
        On failure: back off, report a new kind of failure, re-raise."""
        name = server.name
        try:
            action()
        except Exception as exc:
            timing = self.timing
            retry = after_failure(
                self.retries.get(name, Retry()),
                self.clock(),
                timing.restart_backoff_initial_s,
                timing.restart_backoff_max_s,
            )
            wait = max(0.0, retry.next_at - self.clock())
            self.problems[name] = (
                f"{exc} (attempt {retry.failures} failed; next attempt in {wait:.1f} s)"
            )
            if is_new_kind(retry, exc):
                retry = replace(retry, reported=failure_kind(exc))
                self.events.record(
                    name,
                    "availability",
                    f"{server.kind} could not be {done}: {exc}; retrying with back-off "
                    f"(up to {timing.restart_backoff_max_s:g} s apart).",
                )
            self.retries[name] = retry
            raise
        previous = self.retries.pop(name, None)
        self.problems.pop(name, None)
        if previous is not None:
            self.events.record(
                name,
                "availability",
                f"{server.kind} recovered ({done}) after {previous.failures} failed "
                f"attempt{'s' if previous.failures != 1 else ''}.",
            )
