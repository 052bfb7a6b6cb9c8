"""Back-off for recovery actions that keep failing (restarts, rejoins).

A restart whose cause persists (a port another program took, a broken data directory)
would otherwise be retried every control-loop cycle, forever. Each component keeps an
immutable :class:`Retry`: how many attempts failed in a row, when the next one may run
and which kind of failure was last reported as an event (so a failure that repeats with
new log lines is reported once, not once per attempt). The first attempt is never
delayed; success forgets the record.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.services.base import LOG_TAIL_MARK


@dataclass(frozen=True)
class Retry:
    """Failed attempts in a row of one component's recovery."""

    failures: int = 0
    #: Monotonic time before which no new attempt runs.
    next_at: float = float("-inf")
    #: :func:`failure_kind` of the last failure reported as an event.
    reported: str = ""


def backoff_delay(failures: int, initial: float, cap: float) -> float:
    """The wait after ``failures`` failed attempts in a row: none before the first
    failure, then ``initial``, doubling each time, never more than ``cap``."""
    if failures <= 0:
        return 0.0
    return min(cap, initial * 2.0 ** min(failures - 1, 60))


def failure_kind(exc: BaseException) -> str:
    """What stays the same when an attempt fails the same way again: the exception type
    and the first line of its message without the quoted log lines (timestamps, pids)."""
    lines = str(exc).splitlines()
    first = lines[0] if lines else ""
    return f"{type(exc).__name__}: {first.split(LOG_TAIL_MARK, 1)[0]}"


def after_failure(retry: Retry, now: float, initial: float, cap: float) -> Retry:
    """The record after one more failed attempt (``reported`` is updated by the caller
    once it has reported the new kind)."""
    failures = retry.failures + 1
    return Retry(failures, now + backoff_delay(failures, initial, cap), retry.reported)


def is_new_kind(retry: Retry, exc: BaseException) -> bool:
    """Whether ``exc`` is a kind of failure not yet reported for this streak."""
    return failure_kind(exc) != retry.reported
