"""Bringing a cluster up: three independent tracks in parallel, each in dependency order.

* database: primary (initdb the first time) -> database, replication role and slots ->
  standby and replicas cloned and started in parallel -> once the standby streams, it is
  named in ``synchronous_standby_names`` (naming it earlier would block every commit,
  ``CREATE DATABASE`` included) -> the proxy, authenticating with the primary's verifier;
* cache: primary -> replicas -> Sentinels;
* secrets: moto -> the secret in the RDS managed-secret shape;

and the endpoint router first of all. If any step fails, everything started is stopped.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import LiteralString

from psycopg import sql

from sandbox.errors import ComponentFailedError
from sandbox.process import wait_until
from sandbox.services.base import ManagedServer
from sandbox.services.pg_template import TemplateCache, cache_root
from sandbox.services.postgres import (
    REPLICATION_USER,
    PostgresInstance,
    set_role_password,
    slot_name,
)
from sandbox.supervisor.cluster import Cluster, Progress


def _start(server: ManagedServer, progress: Progress, what: str = "starting") -> None:
    progress(server.name, what)
    server.start()
    progress(server.name, "ready")


def _parallel(pool: ThreadPoolExecutor, tasks: list[Callable[[], None]]) -> None:
    """Run tasks at once; wait for all of them; re-raise the first failure."""
    futures = [pool.submit(task) for task in tasks]
    errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


def bootstrap_primary(primary: PostgresInstance, followers: list[PostgresInstance]) -> None:
    """Idempotently create the application database, the replication role and one slot per
    follower."""
    settings = primary.settings
    with primary.connect(dbname="postgres") as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (settings.db_name,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.db_name)))
        role_sql: LiteralString = (
            "ALTER ROLE {} WITH REPLICATION LOGIN PASSWORD {}"
            if conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (REPLICATION_USER,)
            ).fetchone()
            else "CREATE ROLE {} WITH REPLICATION LOGIN PASSWORD {}"
        )
        set_role_password(conn, REPLICATION_USER, settings.replication_password, role_sql)
    bootstrap_slots(primary, followers)


def bootstrap_slots(primary: PostgresInstance, followers: list[PostgresInstance]) -> None:
    """Create a physical replication slot on ``primary`` for every follower lacking one."""
    with primary.connect(dbname="postgres") as conn:
        existing = {row[0] for row in conn.execute("SELECT slot_name FROM pg_replication_slots")}
        for follower in followers:
            if slot_name(follower.name) not in existing:
                conn.execute(
                    "SELECT pg_create_physical_replication_slot(%s, true)",
                    (slot_name(follower.name),),
                )


def replication_states(primary: PostgresInstance) -> dict[str, tuple[str, str]]:
    """application_name -> (state, sync_state) from the primary's pg_stat_replication."""
    with primary.connect(dbname="postgres") as conn:
        rows = conn.execute(
            "SELECT application_name, state, sync_state FROM pg_stat_replication"
        ).fetchall()
    return {str(name): (str(state), str(sync)) for name, state, sync in rows}


def wait_replication(
    primary: PostgresInstance,
    predicate: Callable[[dict[str, tuple[str, str]]], bool],
    timeout: float,
    what: str,
) -> None:
    """Poll pg_stat_replication until ``predicate`` holds."""
    if not wait_until(lambda: predicate(replication_states(primary)), timeout, 0.02):
        raise ComponentFailedError(
            f"{primary.name}: {what} not reached after {timeout:g} s "
            f"(pg_stat_replication: {replication_states(primary)}); see rdsbox logs"
        )


#: max_connections that initdb records in pg_control (its first probe value).
INITDB_MAX_CONNECTIONS = 100


class BringUp:
    """One run of starting a :class:`Cluster`."""

    def __init__(self, cluster: Cluster, progress: Progress) -> None:
        self.cluster = cluster
        self.progress = progress
        self.timeout = cluster.timing.startup_timeout_s

    def run(self) -> float:
        """Start everything; return the seconds it took. On failure stop all and raise."""
        began = time.monotonic()
        cluster = self.cluster
        try:
            with ThreadPoolExecutor(max_workers=16) as pool:
                self._router()
                tracks: list[Future[None]] = [
                    pool.submit(self._database, pool),
                    pool.submit(self._cache, pool),
                    pool.submit(self._secrets),
                ]
                for track in tracks:
                    error = track.exception()
                    if error is not None:
                        raise error
        except BaseException:
            self.progress("sandbox", "stopping what was started")
            cluster.stop()
            raise
        cluster.roles.save(cluster.state.topology_file)
        return time.monotonic() - began

    def _router(self) -> None:
        cluster = self.cluster
        router = cluster.router
        router.initial = {
            "writer": {cluster.primary.name},
            "reader": cluster.reader_targets(),
            "cache_primary": {cluster.cache_primary.name},
            "cache_reader": cluster.cache_reader_targets(),
        }
        _start(router, self.progress)

    def _database(self, pool: ThreadPoolExecutor) -> None:
        cluster = self.cluster
        primary = cluster.primary
        followers = cluster.followers
        for follower in followers:
            follower.upstream_port = primary.port
        copies: list[Future[None]] = []
        if not primary.initialized():
            copies = self._create(pool, primary, [f for f in followers if not f.initialized()])
        _start(primary, self.progress)
        primary.adopt_password()
        bootstrap_primary(primary, followers)
        for copy in copies:
            copy.result()
        seed = self._seed([f for f in followers if not f.initialized()])
        _parallel(
            pool,
            [
                partial(_start, f, self.progress, "starting" if f.initialized() else "cloning")
                for f in followers
            ],
        )
        if seed is not None:
            shutil.rmtree(seed, ignore_errors=True)
        names = {f.name for f in followers}
        wait_replication(
            primary,
            lambda states: all(states.get(n, ("", ""))[0] == "streaming" for n in names),
            self.timeout,
            "streaming from every follower",
        )
        standby = cluster.standby
        if standby is not None:
            primary.write_runtime_conf(sync_standby=standby.name)
            primary.reload()
            wait_replication(
                primary,
                lambda states: states.get(standby.name, ("", ""))[1] == "sync",
                self.timeout,
                f"{standby.name} as synchronous standby",
            )
            self.progress(standby.name, "synchronous")
        if cluster.proxy is not None:
            cluster.proxy.target_port = primary.port
            cluster.proxy.verifier = primary.master_verifier()
            _start(cluster.proxy, self.progress)

    def _create(
        self, pool: ThreadPoolExecutor, primary: PostgresInstance, new: list[PostgresInstance]
    ) -> list[Future[None]]:
        """Make the data directories of a new primary and its new followers: copies of
        the cached template when it can be used (the followers' copies may still be under
        way when this returns: their futures), else initdb."""
        settings = primary.settings
        cache = TemplateCache(
            primary.binaries, primary.run_as, settings.username, settings.db_name, cache_root()
        )
        if cache.usable():
            self.progress(primary.name, "copying the template cluster")
            template = cache.get()
            for node in (primary, *new):
                node.template = template
            copies = [pool.submit(follower.prepare) for follower in new]
            primary.prepare()
            return copies
        self.progress(primary.name, "initdb")
        primary.prepare()
        # A cluster that initdb made and that never ran is a valid cold backup too, but its
        # pg_control records initdb's max_connections (100) and a standby refuses to run
        # with less: smaller settings take the base-backup path instead.
        if settings.max_connections >= INITDB_MAX_CONNECTIONS:
            for follower in new:
                follower.seed = primary.pgdata
            _parallel(pool, [f.prepare for f in new])
        return []

    def _seed(self, new_followers: list[PostgresInstance]) -> Path | None:
        """One base backup for all new followers when there are several (see make_seed)."""
        if len(new_followers) < 2:
            return None
        first = new_followers[0]
        seed_dir = first.run_as.make_dir(self.cluster.state.data_root / "base-backup")
        self.progress(first.name, "base backup")
        first.make_seed(seed_dir / "pgdata")
        for follower in new_followers:
            follower.seed = first.seed
        return seed_dir

    def _cache(self, pool: ThreadPoolExecutor) -> None:
        cluster = self.cluster
        primary = cluster.cache_primary
        primary.primary_port = None
        _start(primary, self.progress)
        for replica in cluster.cache_replicas:
            replica.primary_port = primary.port
        for sentinel in cluster.sentinels.values():
            sentinel.primary_port = primary.port
        _parallel(pool, [partial(_start, r, self.progress) for r in cluster.cache_replicas])
        for replica in cluster.cache_replicas:
            if not wait_until(replica.link_up, self.timeout):
                raise replica.failure("did not finish its initial sync with the primary")
        _parallel(pool, [partial(_start, s, self.progress) for s in cluster.sentinels.values()])

    def _secrets(self) -> None:
        cluster = self.cluster
        _start(cluster.moto, self.progress)
        cluster.secret_arn = cluster.moto.put_secret(
            cluster.config.secret.name, cluster.secret_value()
        )
        self.progress(cluster.config.secret.name, "stored")
