"""Classify a failed request: refused, reset, timeout, auth, sql or other.

What each kind tells an operator: ``refused`` nothing is listening, or the server turned the
connection away (``too many clients``); ``reset`` an established connection died (failover,
endpoint reset, server crash); ``timeout`` no answer in time (a hang, a partition, a full
pool: PgBouncer's ``query_wait_timeout``); ``auth`` wrong or rotated credentials; ``sql`` the
server ran the statement and rejected it (constraint, syntax, a Redis error reply);
``other`` anything else (worth a look).
"""

from __future__ import annotations

import socket

import psycopg
import redis

from sandbox.workload.spec import ErrorKind

_PATTERNS: tuple[tuple[ErrorKind, tuple[str, ...]], ...] = (
    ("auth", ("password authentication failed", "sasl authentication", "auth", "noauth")),
    ("timeout", ("timeout", "timed out", "query_wait_timeout", "canceling statement")),
    ("refused", ("connection refused", "too many clients", "no more connections", "rejected")),
    (
        "reset",
        (
            "reset",
            "closed the connection",
            "connection closed",
            "server closed",
            "terminating connection",
            "broken pipe",
            "eof",
            "shutting down",
            "connection is lost",
            "consuming input failed",
            "server conn crashed",
            "the database system is",
        ),
    ),
)


def classify(exc: BaseException) -> ErrorKind:
    """The kind of a request's exception."""
    if isinstance(exc, redis.AuthenticationError):
        return "auth"
    if isinstance(exc, redis.TimeoutError | socket.timeout | TimeoutError):
        return "timeout"
    if isinstance(exc, redis.ResponseError):
        return "sql"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "reset"
    message = str(exc).lower()
    if isinstance(exc, psycopg.Error | redis.RedisError | OSError):
        for kind, needles in _PATTERNS:
            if any(needle in message for needle in needles):
                return kind
    if isinstance(exc, psycopg.errors.InsufficientPrivilege | psycopg.errors.InvalidPassword):
        return "auth"
    if isinstance(exc, psycopg.DatabaseError) and not isinstance(exc, psycopg.OperationalError):
        return "sql"
    return "other"
