"""The reference application's caching strategies, as steps around the database access.

- none: every request goes to the database.
- cache-aside (lazy loading): GET; on a miss read the database, then SET with a TTL.
  Writes update the database, then DEL the key.
- write-through: reads as cache-aside; writes update the database, then SET the key.
- write-behind: reads as cache-aside; writes SET the key and queue it (one pipelined
  round trip) and return; a background flusher writes the queue to the database in
  batches. The queue's length is the WriteBehindBacklog metric.

Stampede protection on a miss: ``lock`` lets one request per key fill it (SET NX) while the
others wait for the fill and read the cache; ``early-refresh`` makes a hit in the last
tenth of its TTL refresh the key once (probabilistic early expiration, simplified).
When the cache is down the application falls back to the database.
"""

from __future__ import annotations

from collections import deque

from simulator.clients import Application
from simulator.database import DbNode
from simulator.request import Request
from simulator.world import World


class Strategies:
    """Cache steps of every strategy, plus the write-behind flusher."""

    def __init__(self, app: Application, world: World) -> None:
        self.app = app
        self.world = world
        self.redis = world.redis
        self.engine = world.engine
        self.filling: dict[int, list[Request]] = {}  # key -> requests waiting for its fill
        self.backlog: deque[int] = deque()
        self.flushed = 0
        app.strategies = self

    def before_db(self, request: Request) -> None:
        """First step of a request, at ``now``."""
        strategy = request.phase.strategy
        now = self.engine.now
        redis = self.redis
        if strategy == "none" or not redis.available(now):
            self.app.database(request)
            return
        if request.write:
            if strategy == "write-behind":
                done = redis.command(now, 2)  # SET + RPUSH, pipelined
                redis.store(request.key, now + request.phase.next_ttl())
                self.backlog.append(request.key)
                self.app.finish_at(request, done)
            else:
                self.app.database(request)
            return
        done = redis.command(now)
        expiry = redis.lookup(request.key, now)
        phase = request.phase
        if expiry is not None and not (phase.early_refresh and expiry - now < phase.early_window):
            request.hit = 1
            self.app.finish_at(request, done)
            return
        self.missed(request, done, expiry)

    def missed(self, request: Request, done: float, expiry: float | None) -> None:
        """A read's GET (answered at ``done``) missed, or asks for an early refresh."""
        request.hit = 2
        stampede = request.phase.spec.stampede
        if stampede != "none":
            waiting = self.filling.get(request.key)
            if waiting is not None and expiry is None:
                waiting.append(request)  # someone else fills it; wait for that
                self.engine.at(request.deadline, self.app.give_up, request)
                return
            self.filling[request.key] = []
            if stampede == "lock":
                done = self.redis.command(done)  # SET NX of the lock
        self.engine.at(done, self.app.database, request)

    def after_db(self, request: Request) -> None:
        """Step after the database answered, at ``now``."""
        strategy = request.phase.strategy
        now = self.engine.now
        redis = self.redis
        if strategy == "none" or not redis.available(now):
            self._wake(request.key, now)
            self.app.finish(request)
            return
        if request.write:
            done = redis.command(now)
            if strategy == "cache-aside":
                redis.delete(request.key)
            else:
                redis.store(request.key, now + request.phase.next_ttl())
        else:
            done = redis.command(now)
            redis.store(request.key, now + request.phase.next_ttl())
            self._wake(request.key, done)
        self.app.finish_at(request, done)

    def _wake(self, key: int, at: float) -> None:
        """The key is filled: requests waiting for it read it from the cache."""
        waiting = self.filling.pop(key, None)
        for other in waiting or ():
            self.app.finish_at(other, self.redis.command(at))

    def abandon_fill(self, request: Request) -> None:
        """A request that missed failed: if it was filling its key, the waiters go to the
        database themselves."""
        waiting = self.filling.get(request.key)
        if waiting is not None and request not in waiting:
            del self.filling[request.key]
            for other in waiting:
                if not other.ended:
                    self.app.database(other)

    # -- write-behind -------------------------------------------------------------------
    def start_flusher(self, until: float) -> None:
        """Run the write-behind flusher every ``write_behind_interval_ms`` until ``until``."""
        self._flush_until = until
        self.engine.at(self.engine.now, self._flush, None)

    def _flush(self, _: object) -> None:
        calibration = self.world.calibration
        now = self.engine.now
        interval = calibration.write_behind_interval_ms / 1000
        node = self._flush_target()
        if self.backlog and node is not None:
            count = min(len(self.backlog), calibration.write_behind_batch)
            extra = self.world.commit_extra(node) + (count - 1) * (
                calibration.write_batch_row_ms / 1000
            )
            done = node.execute(now, True, extra) + self.world.round_trip()
            for _ in range(count):
                self.world.last_write[self.backlog.popleft()] = done
            self.flushed += count
            next_at = done + interval
        elif self.backlog:
            next_at = now + self.world.timing.client_backoff_s  # no writer: back off
        else:
            next_at = now + interval
        if next_at <= self._flush_until or self.backlog:
            self.engine.at(next_at, self._flush, None)

    def _flush_target(self) -> DbNode | None:
        world = self.world
        if world.proxy is not None and not world.proxy.slots.held:
            node = world.proxy_target
        else:
            node = world.writer_dns
        return node if node is not None and node.up else None
