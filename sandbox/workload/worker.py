"""One load worker process: ``concurrency`` application threads driving the reference app.

Open loop: the run's requests are scheduled at a constant rate (``rate`` over all workers;
worker ``w`` of ``W`` takes requests ``w, w+W, w+2W...``), each thread takes the next request
and waits for its intended start. Latency is measured from that *intended* start, so when
the system stalls, the requests queued behind the stall count their wait (no coordinated
omission); requests still unsent, or unanswered, when the run ends count as timeouts.
Closed loop: each thread sends its next request when the previous one returns.
"""

from __future__ import annotations

import bisect
import itertools
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from sandbox.workload.app import CachePolicy, ReferenceApp
from sandbox.workload.consistency import AckLog, SharedLag, StalenessChecker
from sandbox.workload.endpoints import Endpoints
from sandbox.workload.errors import classify
from sandbox.workload.recorder import TICK_S, Recorder
from sandbox.workload.spec import ErrorKind, LoadSpec


class ZipfKeys:
    """User ids 1..keys drawn with Zipf popularity (exponent ``s``; 0 is uniform)."""

    def __init__(self, keys: int, s: float) -> None:
        self.keys = keys
        total, cumulative = 0.0, []
        for rank in range(1, keys + 1):
            total += rank**-s
            cumulative.append(total)
        self._cumulative = cumulative

    def draw(self, rng: random.Random) -> int:
        """One user id."""
        cumulative = self._cumulative
        return min(bisect.bisect(cumulative, rng.random() * cumulative[-1]), self.keys - 1) + 1


@dataclass(frozen=True)
class WorkerPlan:
    """What one worker process does."""

    spec: LoadSpec
    endpoints: Endpoints
    index: int
    table: str


class Worker:
    """The threads of one worker process and their shared recorder."""

    def __init__(self, plan: WorkerPlan, acks: AckLog, lag: SharedLag) -> None:
        self.plan = plan
        spec = plan.spec
        self.spec = spec
        self.acks = acks
        self.lag = lag if spec.path == "reader" else None
        self.recorder = Recorder()
        self.keys = ZipfKeys(spec.keys, spec.zipf)
        self._next = itertools.count()
        self._started = itertools.count()
        self.inflight: list[float | None] = [None] * spec.concurrency
        self.t0 = 0.0
        self.cache = (
            plan.endpoints.connect_cache(spec.timeout, spec.concurrency + 4)
            if spec.strategy != "none"
            else None
        )
        policy = CachePolicy(spec.ttl, spec.ttl_jitter, spec.fill, spec.stampede)
        self.apps = [
            ReferenceApp.connect(
                plan.endpoints,
                spec.strategy,
                spec.path,
                spec.connections,
                policy,
                cache=self.cache,
                timeout=spec.timeout,
                rng=random.Random(f"{spec.seed}-{plan.index}-{slot}-ttl"),
                table=plan.table,
            )
            for slot in range(spec.concurrency)
        ]

    def prepare(self) -> None:
        """Open the pooled connections before the clock starts."""
        if self.cache is not None:
            self.cache.ping()
        if self.spec.connections != "pooled":
            return
        for app in self.apps:
            with app.db.reads():
                pass
            if self.spec.read_ratio < 1 and self.spec.strategy != "write-behind":
                with app.db.writes():
                    pass

    # -- the schedule --------------------------------------------------------------------------
    def _intended(self, i: int, t0: float) -> float:
        workers = self.spec.workers
        return t0 + (i * workers + self.plan.index) / self.spec.rate

    def scheduled(self) -> int:
        """How many requests this worker owes in an open-loop run."""
        spec = self.spec
        owed = spec.duration * spec.rate - self.plan.index
        return max(0, -int(-owed // spec.workers))

    def _thread(self, slot: int, t0: float) -> None:
        spec = self.spec
        end = t0 + spec.duration
        rng = random.Random(f"{spec.seed}-{self.plan.index}-{slot}")
        checker = StalenessChecker(self.acks, self.lag)
        while True:
            if spec.mode == "open":
                intended = self._intended(next(self._next), t0)
                if intended >= end:
                    return
                delay = intended - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            else:
                intended = time.monotonic()
                if intended >= end:
                    return
            next(self._started)
            self.inflight[slot] = intended
            self._request(self.apps[slot], rng, checker, intended)
            self.inflight[slot] = None

    def _request(
        self, app: ReferenceApp, rng: random.Random, checker: StalenessChecker, intended: float
    ) -> None:
        user_id = self.keys.draw(rng)
        read = rng.random() < self.spec.read_ratio
        hit: bool | None = None
        stale = False
        error: ErrorKind | None = None
        started = time.monotonic()
        try:
            if read:
                result = app.get_user(user_id)
                hit = result.hit
                version = result.user.version if result.user else None
                stale = checker.check(user_id, version, started)
            else:
                tag = rng.randrange(1 << 30)
                user = app.update_user(
                    user_id, f"user {user_id} #{tag}", f"u{user_id}.{tag}@ex.com"
                )
                if user is not None:
                    self.acks.record(user_id, user.version)
        except Exception as exc:
            error = classify(exc)
        done = time.monotonic()
        if error is None and done - started > self.spec.timeout:
            error = "timeout"  # answered, but after the client would have given up
        tick = int((done - self.t0) / TICK_S)
        self.recorder.record(done - intended, read, error, hit, stale, tick, started - intended)

    # -- the run -------------------------------------------------------------------------------
    def run(self, t0: float, report: Any) -> float:
        """Run from ``t0`` (monotonic); ``report(k, stats)`` gets second ``k``'s stats.
        Returns the seconds from ``t0`` to the last answer."""
        self.t0 = t0
        threads = [
            threading.Thread(target=self._thread, args=(slot, t0), daemon=True)
            for slot in range(self.spec.concurrency)
        ]
        for thread in threads:
            thread.start()
        give_up = t0 + self.spec.duration + self.spec.timeout + 0.5
        second = 0
        while any(t.is_alive() for t in threads) and time.monotonic() < give_up:
            tick = t0 + second + 1
            for thread in threads:
                thread.join(max(0.0, min(tick, give_up) - time.monotonic()))
            if time.monotonic() >= tick:
                report(second, self.recorder.take_interval().to_wire())
                second += 1
        elapsed = time.monotonic() - t0
        self._count_abandoned(t0)
        report(second, self.recorder.take_interval().to_wire())
        return elapsed

    def _count_abandoned(self, t0: float) -> None:
        """Requests still waiting for an answer, or never sent, are timeouts."""
        now = time.monotonic()
        for intended in self.inflight:
            if intended is not None:
                self.recorder.record(now - intended, True, "timeout")
        if self.spec.mode == "open":
            started = next(self._started)
            for i in range(started, self.scheduled()):
                self.recorder.record(now - self._intended(i, t0), True, "timeout")

    def close(self) -> None:
        """Close the connections."""
        for app in self.apps:
            app.close()
        if self.cache is not None:
            self.cache.close()
