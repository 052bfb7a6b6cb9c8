"""Every managed server of one sandbox, built from the configuration, and how to stop them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from sandbox.binaries import Binaries
from sandbox.config import SandboxConfig
from sandbox.credentials import Credentials
from sandbox.privileges import RunAs
from sandbox.services.base import ManagedServer, ServerContext
from sandbox.services.haproxy import Endpoint, EndpointRouter
from sandbox.services.moto import MotoServer
from sandbox.services.pgbouncer import PgBouncer, PoolSettings
from sandbox.services.postgres import PostgresInstance, PostgresSettings
from sandbox.services.redis import RedisNode, Sentinel
from sandbox.statedir import StateDir
from sandbox.supervisor.roles import Roles
from sandbox.tls import TlsFiles, cache_tls_enabled, db_tls_enabled
from sandbox.topology import MOTO_NAME, Topology

#: Every program a sandbox needs, checked before anything starts.
REQUIRED_BINARIES = (
    "postgres",
    "initdb",
    "pg_basebackup",
    "pgbouncer",
    "redis-server",
    "redis-sentinel",
    "haproxy",
    "pg_ctl",
    "pg_rewind",
)

Progress = Callable[[str, str], None]
"""progress(component, what): a step of bringing the sandbox up."""


class Cluster:
    """The servers of one sandbox and their current roles."""

    def __init__(
        self,
        config: SandboxConfig,
        state: StateDir,
        binaries: Binaries,
        run_as: RunAs,
        credentials: Credentials,
    ) -> None:
        self.config = config
        self.state = state
        self.topology = Topology(config)
        self.credentials = credentials
        self.roles = Roles.load(state.topology_file, self.topology)
        self.secret_arn: str | None = None
        timing = config.timing_profile()
        self.timing = timing
        context = ServerContext(state, run_as, binaries, timing.startup_timeout_s)
        # The files themselves are made before the supervisor starts (launch.preflight).
        tls = TlsFiles.of(state)
        db_tls = tls if db_tls_enabled(config) else None
        cache_tls = tls if cache_tls_enabled(config) else None
        db = config.database
        pg_settings = PostgresSettings(
            username=db.username,
            password=credentials.db_password,
            replication_password=credentials.replication_password,
            db_name=db.db_name,
            max_connections=db.effective_max_connections,
            tls=db_tls,
        )
        topo = self.topology
        self.postgres = {
            name: PostgresInstance(
                name,
                topo.postgres_port(name),
                context,
                pg_settings,
                self.roles.pg_role(name),
                timing.standby_check_interval_s,
            )
            for name in topo.postgres_nodes
        }
        self.proxy: PgBouncer | None = None
        if config.proxy.enabled:
            pool = PoolSettings(
                username=db.username,
                password=credentials.db_password,
                db_name=db.db_name,
                pool_size=config.proxy.pool_size(db.effective_max_connections),
                idle_client_timeout=config.proxy.idle_client_timeout,
                borrow_timeout=config.proxy.connection_borrow_timeout,
                tls=db_tls,
            )
            self.proxy = PgBouncer(config.proxy.name, topo.port("proxy"), context, pool)
        token = credentials.redis_auth_token
        self.redis = {
            name: RedisNode(name, topo.redis_port(name), context, token, cache_tls)
            for name in topo.redis_nodes
        }
        sentinel_timing = (
            round(timing.sentinel_down_after_s * 1000),
            round(timing.sentinel_failover_timeout_s * 1000),
        )
        group = config.cache.replication_group_id
        self.sentinels = {
            name: Sentinel(
                name, topo.sentinel_port(name), context, group, token, sentinel_timing, cache_tls
            )
            for name in topo.sentinels
        }
        self.moto = MotoServer(MOTO_NAME, topo.port("secrets_manager"), context)
        pg_ports = {name: topo.postgres_port(name) for name in topo.postgres_nodes}
        redis_ports = {name: topo.redis_port(name) for name in topo.redis_nodes}
        self.router = EndpointRouter(
            context,
            [
                Endpoint("writer", topo.port("writer"), pg_ports, balanced=False),
                Endpoint("reader", topo.port("reader"), pg_ports, balanced=True),
                Endpoint("cache_primary", topo.port("cache_primary"), redis_ports, balanced=False),
                Endpoint("cache_reader", topo.port("cache_reader"), redis_ports, balanced=True),
            ],
        )

    def secret_value(self) -> dict[str, object]:
        """The DB secret in the RDS managed-secret shape."""
        db = self.config.database
        return {
            "username": db.username,
            "password": self.credentials.db_password,
            "engine": db.engine,
            "host": "127.0.0.1",
            "port": self.topology.port("writer"),
            "dbname": db.db_name,
            "dbInstanceIdentifier": db.identifier,
        }

    # -- roles ---------------------------------------------------------------------------
    def set_pg_roles(self, primary: str, standby: str | None) -> None:
        """Record a new primary (and standby) everywhere roles live, and persist them."""
        self.roles = replace(self.roles, pg_primary=primary, pg_standby=standby)
        for node in self.postgres.values():
            node.role = self.roles.pg_role(node.name)
        self.roles.save(self.state.topology_file)

    def set_db_password(self, password: str) -> None:
        """The database now has a new master password: persist it and use it for every
        node's logins (the proxy moves separately: PgBouncer.accept_password)."""
        self.credentials = replace(self.credentials, db_password=password)
        self.credentials.save(self.state.credentials_file)
        for node in self.postgres.values():
            node.settings = replace(node.settings, password=password)

    def set_cache_primary(self, primary: str) -> None:
        """Record a new Redis primary and persist it."""
        self.roles = self.roles.with_cache_primary(primary)
        self.roles.save(self.state.topology_file)

    # -- views ---------------------------------------------------------------------------
    @property
    def primary(self) -> PostgresInstance:
        """The current PostgreSQL primary."""
        return self.postgres[self.roles.pg_primary]

    @property
    def standby(self) -> PostgresInstance | None:
        """The Multi-AZ standby, if any."""
        return self.postgres[self.roles.pg_standby] if self.roles.pg_standby else None

    @property
    def followers(self) -> list[PostgresInstance]:
        """Standby and read replicas: every node that streams from the primary."""
        return [node for node in self.postgres.values() if node.role != "primary"]

    @property
    def read_replicas(self) -> list[PostgresInstance]:
        """Nodes in the reader rotation (never the standby)."""
        return [node for node in self.postgres.values() if node.role == "replica"]

    @property
    def cache_primary(self) -> RedisNode:
        """The current Redis primary."""
        return self.redis[self.roles.cache_primary]

    @property
    def cache_replicas(self) -> list[RedisNode]:
        """Redis replicas."""
        return [node for name, node in self.redis.items() if name != self.roles.cache_primary]

    def components(self) -> list[ManagedServer]:
        """Every component in status order (the router is not a component: it is the
        endpoints)."""
        servers: list[ManagedServer] = [*self.postgres.values()]
        if self.proxy is not None:
            servers.append(self.proxy)
        servers += [*self.redis.values(), *self.sentinels.values(), self.moto]
        return servers

    def role_of(self, server: ManagedServer) -> str:
        """The role a component plays right now."""
        if isinstance(server, PostgresInstance):
            return self.roles.pg_role(server.name)
        if isinstance(server, RedisNode):
            return self.roles.cache_role(server.name)
        return {"pgbouncer": "proxy", "sentinel": "sentinel", "moto": "secrets"}[server.kind]

    def reader_targets(self) -> set[str]:
        """Reader rotation: the replicas, or the primary when there are none (as AWS does)."""
        return {n.name for n in self.read_replicas} or {self.primary.name}

    def cache_reader_targets(self) -> set[str]:
        """Cache reader rotation: the replicas, or the primary when there are none."""
        return {n.name for n in self.cache_replicas} or {self.cache_primary.name}

    # -- teardown ------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop everything, Sentinels first (no failover while the group shuts down) and
        followers before their primaries."""
        timeout = self.timing.shutdown_timeout_s
        tiers: list[Iterable[ManagedServer]] = [
            [*self.sentinels.values(), self.router],
            [self.proxy] if self.proxy else [],
            [*self.followers, *self.cache_replicas],
            [self.primary, self.cache_primary, self.moto],
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:
            for tier in tiers:
                list(pool.map(lambda server: server.stop(timeout), tier))
