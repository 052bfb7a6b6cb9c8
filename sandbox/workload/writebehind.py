"""Write-behind: updates are acknowledged once queued in Redis and applied to the database
later by a flusher.

The trade-off, measured rather than asserted: writes are as fast as the cache and the
database sees batches instead of a write per request, but an acknowledged update lives only
in Redis until flushed. Lose the cache (or its primary before the queue reached a replica)
and the backlog is gone: :func:`measure_loss` counts exactly which acknowledged writes never
reached the database.

Queue: one Redis list of ``VERSION|JSON`` items. The enqueue script gives the update the
row's next version (Redis clock in microseconds, at least one past the last one it handed
out), stores the value in the cache without expiry (so a read never falls back to the older
database row while the update is pending) and appends it to the queue, atomically. The
flusher moves a batch to a ``processing`` list, applies it in one transaction with
``apply_if_newer`` (idempotent: a replayed or reordered item changes nothing), then drops
the batch and lets the cache entries expire. A flusher that dies mid-batch leaves the batch
in ``processing``; the next flush applies it again: at least once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

import psycopg

from sandbox.workload.cache import CacheOps
from sandbox.workload.db import TABLE, User, apply_if_newer

_ENQUEUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local v = string.format('%.0f', math.max(now, last + 1))
redis.call('SET', KEYS[2], v)
redis.call('SET', KEYS[1], v .. '|0|0|' .. ARGV[1])
redis.call('RPUSH', KEYS[3], v .. '|' .. ARGV[1])
return v
"""

# Take up to ARGV[1] items from the queue into the processing list (unless a batch is
# already there, left by a flusher that failed: that one goes first).
_TAKE = """
if redis.call('LLEN', KEYS[2]) == 0 then
  local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
  if #items == 0 then return {} end
  redis.call('LTRIM', KEYS[1], #items, -1)
  redis.call('RPUSH', KEYS[2], unpack(items))
end
return redis.call('LRANGE', KEYS[2], 0, -1)
"""

# Once applied, a pending entry gets its TTL (unless a newer update replaced it meanwhile).
_SETTLE = """
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^(%d+)|') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class WriteBehindQueue:
    """The Redis side of write-behind: enqueue, backlog, batches."""

    def __init__(self, cache: CacheOps) -> None:
        self.cache = cache
        self.queue_key = f"{cache.prefix}:wb:queue"
        self.processing_key = f"{cache.prefix}:wb:processing"
        self._enqueue = cache.client.register_script(_ENQUEUE)
        self._take = cache.client.register_script(_TAKE)
        self._settle = cache.client.register_script(_SETTLE)

    def enqueue(self, user_id: int, name: str, email: str) -> User:
        """Queue an update; return the acknowledged row (with its version)."""
        now = datetime.now(UTC)
        body = json.dumps(
            {"id": user_id, "name": name, "email": email, "updated_at": now.isoformat()}
        )
        version = int(
            self._enqueue(
                keys=[
                    self.cache.key(user_id),
                    f"{self.cache.key(user_id)}:version",
                    self.queue_key,
                ],
                args=[body],
            )
        )
        return User(user_id, name, email, now, version)

    def backlog(self) -> int:
        """Updates acknowledged but not yet applied (queued plus in flight)."""
        pipe = self.cache.client.pipeline(transaction=False)
        pipe.llen(self.queue_key)
        pipe.llen(self.processing_key)
        return int(sum(pipe.execute()))

    def take(self, batch: int) -> list[User]:
        """The next batch, moved to the processing list."""
        raw = self._take(keys=[self.queue_key, self.processing_key], args=[batch])
        return [_parse(item) for item in raw]

    def done(self, users: Iterable[User], ttl_ms: int) -> None:
        """Drop the processed batch; let its cache entries expire from now on."""
        pipe = self.cache.client.pipeline(transaction=False)
        for user in users:
            self._settle(keys=[self.cache.key(user.id)], args=[user.version, ttl_ms], client=pipe)
        pipe.delete(self.processing_key)
        pipe.execute()


def _parse(item: bytes | str) -> User:
    text = item.decode() if isinstance(item, bytes) else item
    version, body = text.split("|", 1)
    return User.from_json({**json.loads(body), "version": version})


class Flusher:
    """Applies the queue to the database, batch by batch (one flusher per queue)."""

    def __init__(
        self,
        queue: WriteBehindQueue,
        connect: Callable[[], psycopg.Connection],
        ttl_ms: int,
        batch: int = 200,
        table: str = TABLE,
    ) -> None:
        self.queue = queue
        self._connect = connect
        self.ttl_ms = ttl_ms
        self.batch = batch
        self.table = table
        self.applied = 0
        self.conn: psycopg.Connection | None = None

    def flush_once(self) -> int:
        """Apply one batch; return its size (0 when the queue is empty)."""
        users = self.queue.take(self.batch)
        if not users:
            return 0
        if self.conn is None or self.conn.closed:
            self.conn = self._connect()
        try:
            self.applied += apply_if_newer(self.conn, users, self.table)
        except psycopg.OperationalError:
            self.conn.close()
            self.conn = None
            raise  # the batch stays in processing and is applied again next time
        self.queue.done(users, self.ttl_ms)
        return len(users)

    def drain(self, timeout: float = 10.0) -> int:
        """Flush until the backlog is empty or ``timeout`` passed; the backlog left."""
        deadline = time.monotonic() + timeout
        while self.flush_once() and time.monotonic() < deadline:
            pass
        return self.queue.backlog()

    def run(self, stop: threading.Event, interval: float = 0.05) -> None:
        """Flush until ``stop`` is set (for a background thread); errors back off, not end."""
        while not stop.is_set():
            try:
                if self.flush_once():
                    continue
            except Exception:  # cache or database down: the backlog waits, we retry
                stop.wait(0.5)
                continue
            stop.wait(interval)

    def close(self) -> None:
        """Close the database connection."""
        if self.conn is not None:
            self.conn.close()


def measure_loss(
    conn: psycopg.Connection, acknowledged: Iterable[User], table: str = TABLE
) -> tuple[int, int]:
    """``(reached, lost)``: how many acknowledged updates the database holds (this version
    or a newer one), and how many it never got."""
    acked = list(acknowledged)
    rows = conn.execute(
        f"SELECT id, version FROM {table} WHERE id = ANY(%s)".encode(),
        (sorted({u.id for u in acked}),),
    ).fetchall()
    latest: Mapping[int, int] = {int(r[0]): int(r[1]) for r in rows}
    reached = lost = 0
    for user in acked:
        if latest.get(user.id, -1) >= user.version:
            reached += 1
        else:
            lost += 1
    return reached, lost


def count_lost(conn: psycopg.Connection, latest: Mapping[int, int], table: str = TABLE) -> int:
    """How many keys' latest acknowledged version (``latest``: key -> version) the
    database does not hold: the acknowledged updates a lost queue took with it."""
    if not latest:
        return 0
    rows = conn.execute(
        f"SELECT id, version FROM {table} WHERE id = ANY(%s)".encode(), (sorted(latest),)
    ).fetchall()
    held: Mapping[int, int] = {int(r[0]): int(r[1]) for r in rows}
    return sum(1 for key, version in latest.items() if held.get(key, -1) < version)
