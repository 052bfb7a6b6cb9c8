"""Open-loop arrivals: a pre-drawn stream of (time, key, write) the engine merges with its
heap, and the fast path that serves a cache hit without an event or a Request object."""

from __future__ import annotations

from heapq import heappush

from simulator.clients import Application
from simulator.metrics import CODES
from simulator.phases import PhaseRuntime
from simulator.request import Request

_TIMEOUT = CODES["timeout"]


class OpenLoop:
    """Open-loop clients across the phases (an ``ArrivalFeed`` of the engine)."""

    def __init__(self, app: Application, first: PhaseRuntime, poisson: bool) -> None:
        self.app = app
        self.engine = app.engine
        self.phase: PhaseRuntime | None = first
        self.poisson = poisson
        self._batch = first.arrivals(first.start, poisson)
        self._index = 0
        self.next_time = self._batch[0][0]
        self._settle()

    def _settle(self) -> None:
        # Skip to the phase holding next_time; a new phase restarts its own arrival clock.
        while self.phase is not None and self.next_time >= self.phase.end:
            self.phase = self.phase.following
            if self.phase is not None:
                self._batch = self.phase.arrivals(self.phase.start, self.poisson)
                self._index = 0
                self.next_time = self._batch[0][0]
        if self.phase is None:
            self.next_time = float("inf")

    def fire(self) -> None:
        """Start the request due at ``next_time`` (now) and move to the next arrival.

        The common case, a cache hit with a free client slot, is handled inline: no
        Request object, no event (the slot's release time is known and applied lazily).
        This path decides the simulator's speed, hence the manual inlining.
        """
        phase = self.phase
        assert phase is not None
        now = self.next_time
        batch = self._batch
        index = self._index
        _, t0, key, write = batch[index]
        index += 1
        if index == len(batch):
            batch = self._batch = phase.arrivals(now, self.poisson)
            index = 0
        self._index = index
        self.next_time = batch[index][0]
        if self.next_time >= phase.end:
            self._settle()

        app = self.app
        # t0 <= now when the client starts late (calibrated; on time by default): the
        # request runs from now but its latency counts from the intended start t0.
        slots = app.slots
        if slots.used >= slots.capacity and slots.pending:
            slots.drain(now)
        if slots.used >= slots.capacity or slots.waiters or slots.held:
            request = Request(t0, phase, key, write)
            slots.acquire(request, app.begin, request.deadline, app.expire)
            return
        slots.used += 1
        redis = app.redis
        if write or not phase.cache_reads or now < redis.down_until:
            app.begin(Request(t0, phase, key, write))
            return
        # GET, inlined from Redis.command + Redis.lookup for speed: the FIFO server thread,
        # then the key (a full LRU or an expired key takes the slow path).
        free = redis.free_at
        free = (now if now > free else free) + redis.op
        redis.free_at = free
        redis.busy += redis.op
        done = free + redis.round_trip()
        keys = redis.keys
        expiry = keys.get(key)
        if expiry is not None and (expiry <= now or len(keys) >= redis.capacity):
            expiry = redis.lookup(key, now)
        if expiry is None or (phase.early_refresh and expiry - now < phase.early_window):
            assert app.strategies is not None
            app.strategies.missed(Request(t0, phase, key, write), done, expiry)
            return
        heappush(slots.pending, done)  # nobody waits (checked above): release lazily
        recorder = app.recorder
        recorder.t0.append(t0)
        if done - t0 <= phase.timeout:
            recorder.latency.append(done - t0)
            recorder.flags.append(phase.hit_flags)
        else:
            recorder.latency.append(phase.timeout)
            recorder.flags.append(phase.hit_flags | _TIMEOUT)
