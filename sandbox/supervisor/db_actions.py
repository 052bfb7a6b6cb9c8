"""What the emulated RDS control plane does to the database nodes: promote, repoint,
rejoin, restart. Each action records RDS-like events; the control loop decides when."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg

from sandbox.errors import ComponentFailedError
from sandbox.process import run_checked, wait_until
from sandbox.services.base import HOST
from sandbox.services.postgres import PostgresInstance
from sandbox.supervisor.bringup import bootstrap_slots
from sandbox.supervisor.cluster import Cluster
from sandbox.supervisor.events import EventLog

#: How long a promoted standby may take to accept writes, and PAUSE to return.
_PROMOTE_TIMEOUT_S = 30.0
_PAUSE_TIMEOUT_S = 3.0


class DatabaseActions:
    """Failover, repoint, rejoin and restart of PostgreSQL nodes."""

    def __init__(self, cluster: Cluster, events: EventLog, pool: ThreadPoolExecutor) -> None:
        self.cluster = cluster
        self.events = events
        self.pool = pool
        self.instance = cluster.config.database.identifier

    # -- failover ------------------------------------------------------------------------
    def fail_over(self, reason: str) -> str:
        """Promote the Multi-AZ standby: hold the proxy, promote, make the standby's slots,
        repoint and release the proxy. The writer endpoint flips later (DNS delay)."""
        cluster = self.cluster
        old, new = cluster.primary, cluster.standby
        assert new is not None
        self.events.record(
            self.instance, "failover", f"Multi-AZ instance failover started ({reason})."
        )
        # Fence the old primary first (a hung one would come back as a second primary).
        old.kill()
        paused = self.pause_proxy()
        timing = cluster.timing
        time.sleep(timing.promotion_delay_s)
        self._promote(new)
        cluster.set_pg_roles(primary=new.name, standby=old.name)
        time.sleep(timing.proxy_detection_s)  # the proxy watches the nodes, not DNS
        # Clients first; the rest is bookkeeping. The promoted node names no synchronous
        # standby (it never had one as a standby), so its commits cannot block meanwhile.
        self._repoint_proxy(new, paused)
        new.write_runtime_conf(sync_standby=None)
        new.reload()
        bootstrap_slots(new, cluster.followers)
        self.events.record(
            self.instance,
            "failover",
            f"Multi-AZ instance failover completed: {new.name} is the primary.",
        )
        return new.name

    def promote_replica(self, node: PostgresInstance) -> None:
        """Make a read replica the primary (manual, as on single-AZ RDS). The old primary is
        fenced and comes back as a read replica through the control loop's rejoin."""
        cluster = self.cluster
        old = cluster.primary
        self.events.record(node.name, "notification", "Promotion of the read replica started.")
        old.kill()  # one writer endpoint: never two primaries at once
        paused = self.pause_proxy()
        self._promote(node)
        cluster.set_pg_roles(primary=node.name, standby=None)
        self._repoint_proxy(node, paused)
        bootstrap_slots(node, cluster.followers)
        self.events.record(
            node.name,
            "notification",
            f"Read replica promoted: {node.name} is the primary; {old.name} rejoins as a replica.",
        )

    def _promote(self, node: PostgresInstance) -> None:
        result = run_checked(
            # -W: pg_ctl's own wait polls every 100 ms; ours below polls every 10 ms.
            [node.binaries["pg_ctl"], "promote", "-D", node.pgdata, "-W"],
            run_as=node.run_as,
        )
        if result.returncode != 0:
            raise ComponentFailedError(
                f"{node.name}: pg_ctl promote failed: {result.stderr.strip()}"
            )
        node.role = "primary"
        if not wait_until(lambda: _writable(node), _PROMOTE_TIMEOUT_S, 0.01):
            raise ComponentFailedError(f"{node.name}: promoted but not accepting writes")

    def pause_proxy(self) -> bool:
        """PAUSE the proxy: client queries wait instead of failing while there is no writer."""
        proxy = self.cluster.proxy
        if proxy is None:
            return False
        future = self.pool.submit(proxy.admin, "PAUSE")
        try:
            future.result(timeout=_PAUSE_TIMEOUT_S)
        except Exception:
            return False
        return True

    def _repoint_proxy(self, primary: PostgresInstance, paused: bool) -> None:
        proxy = self.cluster.proxy
        if proxy is None:
            return
        proxy.target_port = primary.port
        proxy.prepare()
        try:
            proxy.admin("RELOAD")
            if paused:
                proxy.admin("RESUME")
        except psycopg.Error as exc:
            self.events.record(
                proxy.name, "notification", f"Proxy did not take the new target: {exc}"
            )
            return
        self.events.record(
            proxy.name, "configuration change", f"Proxy target changed to {primary.name}."
        )

    def flip_writer(self) -> None:
        """Point the writer endpoint at the primary and reset connections to the others."""
        primary = self.cluster.primary
        self.cluster.router.route("writer", {primary.name}, reset_others=True)
        self.events.record(
            "writer", "configuration change", f"Writer endpoint now resolves to {primary.name}."
        )

    def repoint_followers(self, followers: list[PostgresInstance]) -> None:
        """Make followers stream from the current primary (a reload, no restart)."""
        primary = self.cluster.primary
        for follower in followers:
            follower.upstream_port = primary.port
            follower.write_runtime_conf(sync_standby=None)
            follower.reload()
            self.events.record(
                follower.name,
                "configuration change",
                f"Read replica now replicates from {primary.name}.",
            )

    def attach_sync_standby(self) -> None:
        """Name the (streaming) standby in synchronous_standby_names on the primary."""
        primary, standby = self.cluster.primary, self.cluster.standby
        assert standby is not None
        primary.write_runtime_conf(sync_standby=standby.name)
        primary.reload()
        self.events.record(
            self.instance, "availability", f"Multi-AZ standby {standby.name} is synchronous again."
        )

    # -- recovery of a failed node --------------------------------------------------------
    def rejoin(self, node: PostgresInstance, attempt: int = 1) -> None:
        """Bring a failed former primary back as a follower: pg_rewind on the first
        attempt, a fresh clone after that or when rewinding fails. Raises when the node
        does not stream afterwards (the caller reports it and backs off)."""
        primary = self.cluster.primary
        node.kill()
        node.upstream_port = primary.port
        how = "re-cloned"
        if attempt == 1:
            try:
                self._rewind(node, primary)
                how = "rewound"
            except ComponentFailedError as exc:
                self.events.record(node.name, "notification", f"{exc}; re-cloning instead.")
        if how == "re-cloned":
            shutil.rmtree(node.pgdata, ignore_errors=True)
        node.start()
        timeout = self.cluster.timing.startup_timeout_s
        if not wait_until(lambda: _streams(primary, node.name), timeout):
            node.kill()
            raise ComponentFailedError(
                f"{node.name} was {how} but does not stream from {primary.name}"
            )
        self.events.record(
            node.name,
            "availability",
            f"DB instance {how} and restarted as {node.role} of {primary.name}.",
        )

    def _rewind(self, node: PostgresInstance, primary: PostgresInstance) -> None:
        if not node.initialized():
            raise ComponentFailedError("no data directory")
        settings = primary.settings
        # A promoted node records its new timeline in pg_control only at its next
        # checkpoint; until then pg_rewind sees one timeline and rewinds nothing.
        with primary.connect(dbname="postgres") as conn:
            conn.execute("CHECKPOINT")
        source = f"host={HOST} port={primary.port} user={settings.username} dbname=postgres"
        result = run_checked(
            [node.binaries["pg_rewind"], "-D", node.pgdata, f"--source-server={source}"],
            run_as=node.run_as,
            env={"PGPASSWORD": settings.password, "PATH": "/usr/bin:/bin"},
            timeout=300,
        )
        if result.returncode != 0:
            last = " | ".join(result.stderr.strip().splitlines()[-2:])
            raise ComponentFailedError(f"pg_rewind failed: {last}")

    def restart(self, node: PostgresInstance, reason: str, announce: bool = True) -> None:
        """Restart a node in place (crash recovery), as single-AZ RDS does; ``announce``:
        record that it is restarting (once per outage, not on every retry)."""
        node.kill()
        if announce:
            self.events.record(node.name, "availability", f"DB instance restarting ({reason}).")
        node.start()
        self.events.record(node.name, "availability", "DB instance restarted.")


def _streams(primary: PostgresInstance, name: str) -> bool:
    try:
        with primary.connect(dbname="postgres", timeout=1) as conn:
            row = conn.execute(
                "SELECT state FROM pg_stat_replication WHERE application_name = %s", (name,)
            ).fetchone()
    except psycopg.Error:
        return False
    return row is not None and row[0] == "streaming"


def _writable(node: PostgresInstance) -> bool:
    try:
        with node.connect(dbname="postgres", timeout=1) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.Error:
        return False
    return row is not None and row[0] is False
