"""The reference application: ``get_user`` / ``update_user`` under four caching strategies.

Import it to try the patterns against a sandbox (or any PostgreSQL + Redis)::

    env = ...  # `rdsbox env --json`
    endpoints = Endpoints.from_env(env)
    app = ReferenceApp.connect(endpoints, strategy="cache-aside", path="reader")
    app.get_user(42)          # miss: loaded from a read replica, cached
    app.get_user(42)          # hit
    app.update_user(42, "Ada", "ada@example.com")   # commit, then invalidate

The strategies and what each gets wrong:

``none``
    Every read goes to the database. Always fresh on the writer and proxy paths; on the
    reader path as stale as the replica's lag.
``cache-aside`` (lazy loading)
    Reads try the cache, and on a miss load the row and cache it with a TTL (plus jitter,
    so keys cached together do not expire together). Writes commit, then invalidate (DEL).
    Cheap and only caches what is read, but a miss costs a database round trip, and a
    reader that loaded the row *before* a concurrent update and caches it *after* that
    update's invalidation leaves the old row in the cache until the TTL (the stale-set
    race). ``fill="versioned"`` removes the race: invalidation leaves a tombstone carrying
    the new version, and a fill is a compare-and-set that refuses anything older.
``write-through``
    Writes commit, then SET the new row in the cache: reads after a write hit and are
    fresh. Every write costs a cache write, rows that are never read are cached too, and
    two concurrent writers can SET in the opposite order of their commits (again solved by
    ``fill="versioned"``).
``write-behind``
    Writes go to the cache and a queue only (see :mod:`sandbox.workload.writebehind`); a
    flusher applies them later, idempotently. Fastest writes and batched database load;
    acknowledged writes are lost if the cache fails before the flush, and the database is
    behind by the backlog.

Stampede protection (for a hot key expiring under load): ``lock`` lets one reader per key
load the row (SET NX PX lease) while the others wait briefly for the cache; ``early-refresh``
refreshes a hot entry before it expires, each reader with a probability that rises as the
expiry approaches and with the time the row took to load (XFetch).
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis

from sandbox.workload.cache import CacheOps, Entry
from sandbox.workload.db import TABLE, DbAccess, User, seed_users, select_user, update_row
from sandbox.workload.endpoints import Endpoints
from sandbox.workload.spec import Connections, Fill, Path, Stampede, Strategy
from sandbox.workload.writebehind import WriteBehindQueue

__all__ = [
    "CachePolicy",
    "DbAccess",
    "Endpoints",
    "Fill",
    "ReadResult",
    "ReferenceApp",
    "User",
    "seed_users",
]


@dataclass(frozen=True)
class CachePolicy:
    """How the application uses the cache."""

    ttl: float = 60.0
    ttl_jitter: float = 0.1
    fill: Fill = "plain"
    stampede: Stampede = "none"
    lock_lease: float = 0.5
    early_refresh_beta: float = 1.0


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What ``get_user`` returned and where from: ``hit`` is None without a cache."""

    user: User | None
    hit: bool | None


class ReferenceApp:
    """One application instance (one per thread: it keeps its own database connections)."""

    def __init__(
        self,
        db: DbAccess,
        cache: redis.Redis | None,
        strategy: Strategy = "cache-aside",
        policy: CachePolicy | None = None,
        rng: random.Random | None = None,
        table: str = TABLE,
        before_fill: Callable[[int], None] | None = None,
    ) -> None:
        if strategy != "none" and cache is None:
            raise ValueError(f"strategy {strategy} needs a cache client")
        self.db = db
        self.strategy = strategy
        self.policy = policy or CachePolicy()
        self.rng = rng or random.Random()
        self.table = table
        # Called between the database read and the cache fill of a miss: tests widen the
        # stale-set race window with it.
        self.before_fill = before_fill
        self.cache = CacheOps(cache, table) if cache is not None else None
        self.queue = WriteBehindQueue(self.cache) if self.cache is not None else None

    @classmethod
    def connect(
        cls,
        endpoints: Endpoints,
        strategy: Strategy = "cache-aside",
        path: Path = "proxy",
        connections: Connections = "pooled",
        policy: CachePolicy | None = None,
        cache: redis.Redis | None = None,
        timeout: float = 5.0,
        **options: object,
    ) -> ReferenceApp:
        """An application connected to the endpoints in ``endpoints``."""
        db = DbAccess(
            lambda p: endpoints.connect_db(p, timeout),
            path,
            endpoints.write_path(path),
            connections,
        )
        if cache is None and strategy != "none":
            cache = endpoints.connect_cache(timeout)
        return cls(db, cache, strategy, policy, **options)  # type: ignore[arg-type]

    # -- reads -------------------------------------------------------------------------------
    def get_user(self, user_id: int) -> ReadResult:
        """Read a user under the strategy."""
        if self.cache is None or self.strategy == "none":
            return ReadResult(self._load(user_id), None)
        entry = self.cache.get(user_id)
        if entry is not None and entry.user is not None and not self._refresh_early(entry):
            return ReadResult(entry.user, True)
        if self.policy.stampede == "lock":
            return self._load_single_flight(user_id)
        return ReadResult(self._load_and_fill(user_id), False)

    def _load(self, user_id: int) -> User | None:
        with self.db.reads() as conn:
            return select_user(conn, user_id, self.table)

    def _load_and_fill(self, user_id: int) -> User | None:
        assert self.cache is not None
        began = time.monotonic()
        user = self._load(user_id)
        if user is None:
            return None
        if self.before_fill is not None:
            self.before_fill(user_id)
        now_ms, delta_ms = _now_ms(), int((time.monotonic() - began) * 1000)
        ttl_ms = self._ttl_ms()
        if self.policy.fill == "versioned" or self.strategy == "write-behind":
            # Write-behind always compares versions: the cache may hold a pending update
            # newer than the row just read.
            self.cache.fill_if_newer(user, ttl_ms, now_ms, delta_ms)
        else:
            self.cache.set(user, ttl_ms, now_ms, delta_ms)
        return user

    def _load_single_flight(self, user_id: int) -> ReadResult:
        assert self.cache is not None
        token = uuid.uuid4().hex
        lease_ms = int(self.policy.lock_lease * 1000)
        if self.cache.lock(user_id, token, lease_ms):
            try:
                return ReadResult(self._load_and_fill(user_id), False)
            finally:
                self.cache.unlock(user_id, token)
        # Someone else is loading it: wait for their fill rather than pile onto the database.
        deadline = time.monotonic() + self.policy.lock_lease
        while time.monotonic() < deadline:
            time.sleep(0.002)
            entry = self.cache.get(user_id)
            if entry is not None and entry.user is not None:
                return ReadResult(entry.user, True)
        return ReadResult(self._load(user_id), False)

    def _refresh_early(self, entry: Entry) -> bool:
        """XFetch: refresh before expiry with a probability that grows as it nears."""
        if self.policy.stampede != "early-refresh" or not entry.expires_at_ms:
            return False
        gap = -entry.delta_ms * self.policy.early_refresh_beta * math.log(1.0 - self.rng.random())
        return _now_ms() + gap >= entry.expires_at_ms

    def _ttl_ms(self) -> int:
        jitter = self.policy.ttl * self.policy.ttl_jitter
        return max(1, int((self.policy.ttl + self.rng.uniform(-jitter, jitter)) * 1000))

    # -- writes ------------------------------------------------------------------------------
    def update_user(self, user_id: int, name: str, email: str) -> User | None:
        """Update a user under the strategy; the acknowledged row (None: no such user)."""
        if self.strategy == "write-behind":
            assert self.queue is not None
            return self.queue.enqueue(user_id, name, email)
        with self.db.writes() as conn:
            user = update_row(conn, user_id, name, email, self.table)
        if user is None or self.cache is None or self.strategy == "none":
            return user
        # After the commit, never before: invalidating first lets a reader re-cache the old
        # row before the commit lands.
        if self.strategy == "cache-aside":
            if self.policy.fill == "versioned":
                self.cache.tombstone(user_id, user.version, self._ttl_ms(), _now_ms())
            else:
                self.cache.delete(user_id)
        elif self.policy.fill == "versioned":
            self.cache.fill_if_newer(user, self._ttl_ms(), _now_ms())
        else:
            self.cache.set(user, self._ttl_ms(), _now_ms(), 0)
        return user

    def close(self) -> None:
        """Close the database connections (the Redis client is the caller's)."""
        self.db.close()


def _now_ms() -> int:
    return int(time.time() * 1000)
