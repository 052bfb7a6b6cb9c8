"""The ``users`` table of the reference application, and how a request gets a connection.

Every row carries a ``version``: a per-row hybrid clock (microseconds since the epoch, and
always at least one more than the row's previous version). Versions order the writes of one
row across strategies, so the write-behind flusher can apply a queued update only when it is
newer (idempotent, order-insensitive), a versioned cache fill can refuse an older value, and
the consistency checker can tell a stale read from a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from sandbox.workload.spec import Connections, Path

TABLE = "users"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 0
)
"""

# The next version: the clock in microseconds, but always past the row's current version,
# so a version never goes backwards even when clocks do.
NEXT_VERSION = (
    "GREATEST({table}.version + 1, (extract(epoch FROM clock_timestamp()) * 1e6)::bigint)"
)


@dataclass(frozen=True, slots=True)
class User:
    """One row of ``users``."""

    id: int
    name: str
    email: str
    updated_at: datetime
    version: int

    def as_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (the cache's payload)."""
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "updated_at": self.updated_at.isoformat(),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        """The inverse of :meth:`as_json`."""
        return cls(
            int(data["id"]),
            str(data["name"]),
            str(data["email"]),
            datetime.fromisoformat(data["updated_at"]),
            int(data["version"]),
        )


_COLUMNS = "id, name, email, updated_at, version"


def seed_users(conn: psycopg.Connection, n: int, table: str = TABLE) -> int:
    """Create ``table`` and make sure users 1..n exist (idempotent: existing rows, and their
    updates, are kept). Returns how many rows were inserted."""
    conn.execute(_SCHEMA.format(table=table).encode())
    cursor = conn.execute(
        f"INSERT INTO {table} (id, name, email, version) "
        "SELECT i, 'user ' || i, 'user' || i || '@example.com', 0 "
        "FROM generate_series(1, %s) AS i ON CONFLICT (id) DO NOTHING".encode(),
        (n,),
    )
    return cursor.rowcount


def select_user(conn: psycopg.Connection, user_id: int, table: str = TABLE) -> User | None:
    """One user by id."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM {table} WHERE id = %s".encode(), (user_id,)
    ).fetchone()
    return User(*row) if row else None


def update_row(
    conn: psycopg.Connection, user_id: int, name: str, email: str, table: str = TABLE
) -> User | None:
    """Update a user, giving the row its next version; the committed row (autocommit)."""
    row = conn.execute(
        f"UPDATE {table} SET name = %s, email = %s, updated_at = clock_timestamp(), "
        f"version = {NEXT_VERSION.format(table=table)} WHERE id = %s "
        f"RETURNING {_COLUMNS}".encode(),
        (name, email, user_id),
    ).fetchone()
    return User(*row) if row else None


def apply_if_newer(conn: psycopg.Connection, users: list[User], table: str = TABLE) -> int:
    """Apply queued updates in one transaction, each only when its version is newer than
    the row's (so replaying one twice, or out of order, changes nothing). Returns how many
    rows changed."""
    if not users:
        return 0
    changed = 0
    with conn.transaction(), conn.cursor() as cursor:
        for user in users:
            cursor.execute(
                f"UPDATE {table} SET name = %s, email = %s, updated_at = %s, version = %s "
                "WHERE id = %s AND version < %s".encode(),
                (user.name, user.email, user.updated_at, user.version, user.id, user.version),
            )
            changed += cursor.rowcount
    return changed


class DbAccess:
    """Hands out database connections for reads and writes.

    ``pooled``: one long-lived connection per endpoint (each application thread has its own
    ``DbAccess``), reopened after a failure. ``per-request``: connect, query, close, as a
    Lambda function without a connection kept across invocations does; this is what a
    connection storm is made of, and what RDS Proxy is for."""

    def __init__(
        self,
        connect: Callable[[Path], psycopg.Connection],
        read_path: Path,
        write_path: Path,
        connections: Connections = "pooled",
    ) -> None:
        self._connect = connect
        self.read_path = read_path
        self.write_path = write_path
        self.connections = connections
        self._open: dict[Path, psycopg.Connection] = {}

    @contextmanager
    def _on(self, path: Path) -> Iterator[psycopg.Connection]:
        if self.connections == "per-request":
            conn = self._connect(path)
            try:
                yield conn
            finally:
                conn.close()
            return
        kept = self._open.get(path)
        if kept is None or kept.closed:
            kept = self._open[path] = self._connect(path)
        try:
            yield kept
        except psycopg.OperationalError:
            # The connection may be broken (reset, failover): drop it, the next call reconnects.
            self._open.pop(path, None)
            kept.close()
            raise

    def reads(self) -> AbstractContextManager[psycopg.Connection]:
        """A connection on the read path."""
        return self._on(self.read_path)

    def writes(self) -> AbstractContextManager[psycopg.Connection]:
        """A connection on the write path."""
        return self._on(self.write_path)

    def close(self) -> None:
        """Close the kept connections."""
        for conn in self._open.values():
            conn.close()
        self._open.clear()
