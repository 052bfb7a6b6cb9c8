"""The application's cache entries in Redis, and the few atomic operations on them.

An entry is one string, ``VERSION|EXPIRES_AT_MS|DELTA_MS|JSON``: the row's version first, so
a Lua script can compare versions without decoding JSON (``cjson`` would print a
microsecond version as ``1.7e+15``); the expiry and the time the value took to load, for
probabilistic early refresh; then the row. An entry with an empty JSON part is a
*tombstone*: "the row changed at VERSION", which readers treat as a miss and which a
versioned fill may only replace with that version or newer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from sandbox.workload.db import TABLE, User

PREFIX = "rdsbox:app"
"""Key prefix of the application's entries; the table name follows it, so two tables (or
two test cases) never share entries or write-behind queues."""

# Set the entry unless the cache holds a newer version (an entry or a tombstone). The same
# version may replace itself: a refresh extends the TTL, a fresh load replaces its tombstone.
_FILL_IF_NEWER = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+)|'))
  if v and v > tonumber(ARGV[1]) then return 0 end
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
"""

# Release a single-flight lock only when we still hold it.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Entry:
    """A decoded cache entry; ``user`` is None for a tombstone."""

    version: int
    expires_at_ms: int
    delta_ms: int
    user: User | None


def encode(
    version: int, user_json: dict[str, Any] | None, expires_at_ms: int, delta_ms: int
) -> str:
    """The entry string (``user_json`` without its version; None makes a tombstone)."""
    body = (
        ""
        if user_json is None
        else json.dumps({k: v for k, v in user_json.items() if k != "version"})
    )
    return f"{version}|{expires_at_ms}|{delta_ms}|{body}"


def decode(raw: bytes | str) -> Entry:
    """Parse an entry string."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    version, expires, delta, body = text.split("|", 3)
    user = User.from_json({**json.loads(body), "version": version}) if body else None
    return Entry(int(version), int(expires), int(delta), user)


class CacheOps:
    """Entry keys, reads, fills, invalidations and locks on one Redis client."""

    def __init__(self, client: redis.Redis, table: str = TABLE) -> None:
        self.client = client
        self.prefix = f"{PREFIX}:{table}"
        self._fill = client.register_script(_FILL_IF_NEWER)
        self._unlock = client.register_script(_UNLOCK)

    def key(self, user_id: int) -> str:
        """The entry key of a user."""
        return f"{self.prefix}:user:{user_id}"

    def get(self, user_id: int) -> Entry | None:
        """The entry (possibly a tombstone), or None when absent."""
        raw = self.client.get(self.key(user_id))
        return decode(raw) if raw is not None else None

    def set(self, user: User, ttl_ms: int, now_ms: int, delta_ms: int) -> None:
        """Plain SET with a TTL: the last writer wins, whatever its version."""
        entry = encode(user.version, user.as_json(), now_ms + ttl_ms, delta_ms)
        self.client.set(self.key(user.id), entry, px=ttl_ms)

    def fill_if_newer(self, user: User, ttl_ms: int, now_ms: int, delta_ms: int = 0) -> bool:
        """Versioned SET (Lua): write unless the cache holds a newer version. ``ttl_ms=0``
        keeps the entry until it changes (write-behind's pending rows)."""
        return self._versioned(user.id, user.version, user.as_json(), ttl_ms, now_ms, delta_ms)

    def tombstone(self, user_id: int, version: int, ttl_ms: int, now_ms: int) -> bool:
        """Mark the row changed at ``version`` (versioned invalidation)."""
        return self._versioned(user_id, version, None, ttl_ms, now_ms, 0)

    def _versioned(
        self,
        user_id: int,
        version: int,
        user_json: dict[str, Any] | None,
        ttl_ms: int,
        now_ms: int,
        delta_ms: int,
    ) -> bool:
        entry = encode(version, user_json, now_ms + ttl_ms if ttl_ms else 0, delta_ms)
        return bool(self._fill(keys=[self.key(user_id)], args=[version, entry, ttl_ms]))

    def delete(self, user_id: int) -> None:
        """Plain invalidation (DEL)."""
        self.client.delete(self.key(user_id))

    def lock(self, user_id: int, token: str, lease_ms: int) -> bool:
        """Take the single-flight lock of a key (SET NX PX): one loader per miss."""
        return bool(self.client.set(f"{self.key(user_id)}:lock", token, nx=True, px=lease_ms))

    def unlock(self, user_id: int, token: str) -> None:
        """Release the lock if it is still ours."""
        self._unlock(keys=[f"{self.key(user_id)}:lock"], args=[token])
