"""The supervisor's metrics collector: every interval, ask each sampler for samples and
append them to the store, on a thread of its own.

Samplers run in parallel with a deadline, so a hung server (SIGSTOP) delays only its own
samples: a sampler still busy from an earlier cycle is not asked again until it returns,
and what it returns late is written with the next cycle. A sampler that raises is skipped
for the cycle. When the store cannot be written (a full disk), collection pauses with one
event in the event log and resumes with another once a write succeeds; samples taken while
paused are dropped. Samples older than the retention are deleted now and then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

from sandbox.metrics.samplers.base import Sampler
from sandbox.metrics.schema import Sample
from sandbox.metrics.store import MetricsStore, MetricsStoreError
from sandbox.supervisor.events import Clock, EventLog

log = logging.getLogger("rdsbox.metrics")

EVENT_SOURCE = "metrics-collector"
"""Source name of the collector's events."""
RETENTION_S = 24 * 3600.0
"""Samples older than this are deleted (CloudWatch keeps 1-second data for 3 hours)."""
PRUNE_EVERY_S = 600.0


class Collector:
    """Samples every ``interval_s`` seconds into a store opened by ``open_store``."""

    def __init__(
        self,
        samplers: Sequence[Sampler],
        open_store: Callable[[], MetricsStore],
        events: EventLog,
        interval_s: float,
        clock: Clock = time.time,
        retention_s: float = RETENTION_S,
    ) -> None:
        self.samplers = list(samplers)
        self.interval_s = interval_s
        self.clock = clock
        self.retention_s = retention_s
        self._open_store = open_store
        self._events = events
        self._store: MetricsStore | None = None
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(self.samplers)), thread_name_prefix="metrics-sampler"
        )
        self._busy: dict[int, Future[list[Sample]]] = {}
        self._paused_since: float | None = None
        self._pruned_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def paused(self) -> bool:
        """Whether writing failed and collection is paused."""
        return self._paused_since is not None

    def cycle(self) -> int:
        """Sample once, write what came back; return the number of samples written."""
        now = self.clock()
        samples = self._harvest()  # late answers of earlier cycles
        for index, sampler in enumerate(self.samplers):
            if index not in self._busy:
                self._busy[index] = self._pool.submit(sampler.sample, now)
        wait(list(self._busy.values()), timeout=max(0.05, self.interval_s * 0.8))
        return self._write(samples + self._harvest(), now)

    def _harvest(self) -> list[Sample]:
        """Samples of every sampler that has answered; the others stay busy."""
        samples: list[Sample] = []
        for index, future in list(self._busy.items()):
            if not future.done():
                continue  # still waiting on a slow server: ask again once it answers
            del self._busy[index]
            try:
                samples += future.result()
            except Exception as exc:  # one sampler's trouble must not stop the rest
                log.debug("sampler %s failed: %s", self.samplers[index].name, exc)
        return samples

    def _write(self, samples: list[Sample], now: float) -> int:
        if not samples:
            return 0
        try:
            if self._store is None:
                self._store = self._open_store()
            written = self._store.write(samples)
            if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY_S:
                self._store.prune(now - self.retention_s)
                self._pruned_at = now
        except MetricsStoreError as exc:
            if self._paused_since is None:
                self._paused_since = now
                self._events.record(
                    EVENT_SOURCE, "notification", f"Metrics collection paused: {exc}."
                )
            return 0
        if self._paused_since is not None:
            lost = now - self._paused_since
            self._paused_since = None
            self._events.record(
                EVENT_SOURCE,
                "notification",
                f"Metrics collection resumed; samples of the last {lost:.0f} s were dropped.",
            )
        return written

    # -- thread --------------------------------------------------------------------------
    def start(self) -> Collector:
        """Run cycles on a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="metrics-collector", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            try:
                self.cycle()
            except Exception:  # never let the thread die: the next cycle may work
                log.exception("metrics cycle failed")
            # A fixed rate; cycles missed while a cycle ran long are skipped, not bunched.
            due = max(due + self.interval_s, time.monotonic())
        if self._store is not None:
            self._store.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close every connection (a hung server's sampler is left
        to finish on its own)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        elif self._store is not None:  # cycles were run by the caller, on its thread
            self._store.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for index, sampler in enumerate(self.samplers):
            if index not in self._busy or self._busy[index].done():
                sampler.close()
