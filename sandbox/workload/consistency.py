"""The consistency checker: reads that returned a row older than an acknowledged write.

Every update is acknowledged with the row's version (see :mod:`sandbox.workload.db`); the
checker keeps, per key, the two latest acknowledged versions and when they were
acknowledged, in shared memory so that every worker process sees every other's writes. A
read that started at ``t`` and returned version ``v`` is *stale* when a write of a newer
version had been acknowledged before ``t - allowance``.

The allowance is what the read path itself permits: zero on the writer and proxy paths
(the primary has every acknowledged commit), the observed replica lag on the reader path.
The caching strategies get no extra allowance: cache-aside promises a fresh row once the
write's invalidation is done (the TTL only bounds how long a *missed* invalidation, or the
stale-set race, keeps an old row), write-through and write-behind update the cache before
they acknowledge. So every stale read counted is a broken promise, not expected lag.

Keeping two versions per key makes the count a lower bound when one key is written many
times within one read's duration; with per-key write rates below that, it is exact.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

_SLOTS = 4  # latest version, its ack time, previous version, its ack time


class AckLog:
    """Acknowledged writes per key, shared by processes (create it before forking)."""

    def __init__(self, keys: int, ctx: Any = None) -> None:
        ctx = ctx or multiprocessing.get_context()
        self.keys = keys
        self._slots = ctx.RawArray("d", (keys + 1) * _SLOTS)
        self._lock = ctx.Lock()

    def record(self, user_id: int, version: int, acked_at: float | None = None) -> None:
        """Note that a write of ``version`` was acknowledged (at ``acked_at``, monotonic)."""
        if not 0 <= user_id <= self.keys:
            return
        at = time.monotonic() if acked_at is None else acked_at
        i = user_id * _SLOTS
        slots = self._slots
        with self._lock:
            if version > slots[i]:
                slots[i + 2], slots[i + 3] = slots[i], slots[i + 1]
                slots[i], slots[i + 1] = float(version), at
            elif version > slots[i + 2]:
                slots[i + 2], slots[i + 3] = float(version), at

    def latest(self) -> dict[int, int]:
        """The latest acknowledged version of every key written so far."""
        s = self._slots
        with self._lock:
            found = {k: int(s[k * _SLOTS]) for k in range(self.keys + 1)}
        return {k: v for k, v in found.items() if v > 0}

    def newer_acked_before(self, user_id: int, version: int, before: float) -> bool:
        """Whether a version newer than ``version`` was acknowledged before ``before``."""
        if not 0 <= user_id <= self.keys:
            return False
        i = user_id * _SLOTS
        s = self._slots
        return bool(
            (s[i] > version and s[i + 1] <= before) or (s[i + 2] > version and s[i + 3] <= before)
        )


class SharedLag:
    """The largest replica lag observed so far (seconds), shared by processes."""

    def __init__(self, ctx: Any = None) -> None:
        ctx = ctx or multiprocessing.get_context()
        self._value = ctx.RawValue("d", 0.0)

    def observe(self, seconds: float) -> None:
        """Note one lag observation."""
        self._value.value = max(self._value.value, seconds)

    @property
    def seconds(self) -> float:
        """The largest lag seen."""
        return float(self._value.value)


class StalenessChecker:
    """Counts stale reads for one read path."""

    def __init__(self, acks: AckLog, lag: SharedLag | None = None) -> None:
        self.acks = acks
        # Only the reader path lags; None means "no allowance".
        self.lag = lag
        self.stale = 0

    def allowance(self) -> float:
        """Seconds a read may lag behind an acknowledged write."""
        return self.lag.seconds if self.lag is not None else 0.0

    def check(self, user_id: int, version: int | None, started_at: float) -> bool:
        """Count the read that started at ``started_at`` (monotonic) and returned
        ``version`` (None: no row); True when it was stale."""
        if version is None:
            return False
        stale = self.acks.newer_acked_before(user_id, version, started_at - self.allowance())
        self.stale += stale
        return stale
