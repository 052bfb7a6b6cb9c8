"""Redis nodes of the ElastiCache replication group, and the Sentinels that fail them over.

``auth_token`` becomes ``requirepass`` and ``masterauth`` (so replicas and Sentinels
authenticate too); ``automatic_failover_enabled`` becomes three Sentinels with quorum 2.
``transit_encryption_enabled`` puts every node and Sentinel on a TLS port only (``port 0``,
as ElastiCache with in-transit encryption has no plain port), with ``tls-replication yes``
so replicas and Sentinels speak TLS to the nodes too; clients present no certificate.
"""

from __future__ import annotations

from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sandbox.privileges import write_private
from sandbox.services.base import HOST, ManagedServer, ServerContext
from sandbox.tls import TlsFiles, redis_options

SENTINEL_QUORUM = 2


def kept_client(port: int, password: str | None, tls: TlsFiles | None = None) -> redis.Redis:
    """A client for health checks: short timeouts, no retries (a failure is an answer);
    verified TLS when the server speaks only TLS."""
    return redis.Redis(
        host=HOST,
        port=port,
        password=password,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
        **redis_options(tls),
    )


def tls_lines(port: int, tls: TlsFiles | None) -> list[str]:
    """The listener lines of redis.conf / sentinel.conf: a plain port, or only a TLS port."""
    if tls is None:
        return [f"port {port}"]
    return [
        "port 0",
        f"tls-port {port}",
        f"tls-cert-file {tls.server_cert}",
        f"tls-key-file {tls.server_key}",
        f"tls-ca-cert-file {tls.ca_cert}",
        "tls-auth-clients no",
        "tls-replication yes",
    ]


class RedisProtocolServer(ManagedServer):
    """A server that speaks the Redis protocol, with one kept client for checks."""

    #: AUTH password of the server (None: no AUTH).
    password: str | None = None
    #: TLS port only (``transit_encryption_enabled``); None: a plain port.
    tls: TlsFiles | None = None
    _client: redis.Redis | None = None

    def client(self) -> redis.Redis:
        """The kept client of this server (thread-safe; reconnects itself)."""
        if self._client is None:
            self._client = kept_client(self.port, self.password, self.tls)
        return self._client

    def release(self) -> None:
        """Close the kept client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def probe(self) -> bool:
        """PING answers."""
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False


class RedisNode(RedisProtocolServer):
    """One ``redis-server``: the primary or a replica of the replication group."""

    kind = "redis"

    def __init__(
        self,
        name: str,
        port: int,
        context: ServerContext,
        auth_token: str,
        tls: TlsFiles | None = None,
    ) -> None:
        super().__init__(name, port, context)
        self.auth_token = auth_token
        self.password = auth_token
        self.tls = tls
        #: Port of the primary to replicate from; None for the primary.
        self.primary_port: int | None = None
        self._client = None

    @property
    def conf_path(self) -> Path:
        """redis.conf (0600: it holds the auth token)."""
        return self.state.conf_dir(self.name) / "redis.conf"

    def prepare(self) -> None:
        """Write redis.conf for the current role."""
        data = self.state.data_dir(self.name)
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        lines = [
            "# Written by rdsbox.",
            f"bind {HOST}",
            *tls_lines(self.port, self.tls),
            "daemonize no",
            'logfile ""',
            f"dir {data}",
            "dbfilename dump.rdb",
            # Snapshot on shutdown only, so `down` keeps the cache's contents.
            "save 3600 1",
            "appendonly no",
            # Diskless sync waits 5 s by default for more replicas to batch; ours all
            # connect at once and a replica should be in sync as soon as it starts.
            "repl-diskless-sync-delay 0",
            f"requirepass {self.auth_token}",
            f"masterauth {self.auth_token}",
            f"replica-announce-ip {HOST}",
        ]
        if self.primary_port is not None:
            lines.append(f"replicaof {HOST} {self.primary_port}")
        write_private(self.conf_path, "\n".join(lines) + "\n")

    def command(self) -> list[str]:
        """Foreground redis-server."""
        return [str(self.binaries["redis-server"]), str(self.conf_path)]

    def replication(self) -> dict[str, object]:
        """INFO replication (empty when the node does not answer)."""
        try:
            return dict(self.client().info("replication"))
        except redis.RedisError:
            return {}

    def link_up(self) -> bool:
        """A replica's link to its primary is up."""
        return self.replication().get("master_link_status") == "up"


class Sentinel(RedisProtocolServer):
    """One ``redis-sentinel`` watching the replication group."""

    kind = "sentinel"

    def __init__(
        self,
        name: str,
        port: int,
        context: ServerContext,
        group: str,
        auth_token: str,
        timing: tuple[int, int],
        tls: TlsFiles | None = None,
    ) -> None:
        super().__init__(name, port, context)
        self.tls = tls
        self.group = group
        self.auth_token = auth_token
        #: (down-after, failover-timeout) in milliseconds, from the timing profile.
        self.down_after_ms, self.failover_timeout_ms = timing
        #: Port of the primary it monitors at start.
        self.primary_port: int | None = None
        self._client = None  # Sentinels themselves take no password here

    @property
    def conf_path(self) -> Path:
        """sentinel.conf; Sentinel rewrites it, so it lives with the data."""
        return self.state.data_dir(self.name) / "sentinel.conf"

    def prepare(self) -> None:
        """Write sentinel.conf monitoring the current primary."""
        self.conf_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lines = [
            "# Written by rdsbox; Sentinel adds what it learns below.",
            f"bind {HOST}",
            *tls_lines(self.port, self.tls),
            "daemonize no",
            'logfile ""',
            f"dir {self.conf_path.parent}",
            f"sentinel announce-ip {HOST}",
            f"sentinel monitor {self.group} {HOST} {self.primary_port} {SENTINEL_QUORUM}",
            f"sentinel auth-pass {self.group} {self.auth_token}",
            f"sentinel down-after-milliseconds {self.group} {self.down_after_ms}",
            f"sentinel failover-timeout {self.group} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {self.group} 1",
        ]
        write_private(self.conf_path, "\n".join(lines) + "\n")

    def command(self) -> list[str]:
        """Foreground redis-sentinel."""
        return [str(self.binaries["redis-sentinel"]), str(self.conf_path)]

    def primary_address(self) -> tuple[str, int] | None:
        """The primary this Sentinel believes in."""
        try:
            answer = self.client().execute_command(  # type: ignore[no-untyped-call]
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.group
            )
        except redis.RedisError:
            return None
        if not answer:
            return None
        host, port = answer
        return str(host), int(port)
