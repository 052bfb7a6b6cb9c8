"""A PostgreSQL instance: the RDS primary, the Multi-AZ standby or a read replica.

A new primary is made by ``initdb`` (SCRAM, master user and password from the secret); a
follower by ``pg_basebackup`` from the current primary through its replication slot. Both
land in a temporary directory that is renamed into place only when complete, so a failed
start never leaves a half-made data directory behind. ``postgresql.conf`` is rewritten on
every start (ports and roles may have changed); settings that change at run time
(``synchronous_standby_names``, ``primary_conninfo``) live in ``rdsbox_runtime.conf`` and
are applied with a reload.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, LiteralString

import psycopg
from psycopg import sql

from sandbox.binaries import Binaries
from sandbox.errors import ComponentFailedError
from sandbox.privileges import write_private
from sandbox.process import process_cwd, run_checked
from sandbox.services.base import HOST, ManagedServer, ServerContext
from sandbox.services.initdb import initdb_command
from sandbox.services.pg_template import ClusterTemplate
from sandbox.tls import TlsFiles, libpq_options

NodeRole = Literal["primary", "standby", "replica"]
REPLICATION_USER = "rdsbox_repl"
#: application_name of the supervisor's health checks (like RDS's rdsadmin sessions).
HEALTH_APP = "rdsbox-health"
RUNTIME_CONF = "rdsbox_runtime.conf"
#: The data directory lock file; its first line is the postmaster's pid.
LOCK_FILE = "postmaster.pid"


@dataclass(frozen=True)
class PostgresSettings:
    """What every node of one sandbox shares."""

    username: str
    password: str
    replication_password: str
    db_name: str
    max_connections: int
    #: Serve TLS only (``proxy.require_tls``); None: plain connections.
    tls: TlsFiles | None = None


def base_backup_command(binaries: Binaries, port: int, slot: str | None) -> list[str]:
    """pg_basebackup of the primary on ``port`` (the target directory is appended)."""
    argv = [
        str(binaries["pg_basebackup"]),
        "-h",
        HOST,
        "-p",
        str(port),
        "-U",
        REPLICATION_USER,
        "-X",
        "stream",
        "-c",
        "fast",
        "-N",
        "-w",
    ]
    # The caller appends the target directory, hence "-D" last.
    return [*argv, *(["-S", slot] if slot else []), "-D"]


def slot_name(node: str) -> str:
    """Replication slot for ``node`` (slot names allow only [a-z0-9_])."""
    return node.replace("-", "_").lower()


class PostgresInstance(ManagedServer):
    """One ``postgres`` server process and its data directory."""

    kind = "postgres"
    stop_signal: ClassVar[signal.Signals] = signal.SIGINT
    runs_unprivileged = True

    def __init__(
        self,
        name: str,
        port: int,
        context: ServerContext,
        settings: PostgresSettings,
        role: NodeRole,
        standby_check_interval: float = 1.0,
    ) -> None:
        super().__init__(name, port, context)
        #: How long a standby's last good health check stands while its process lives.
        self.standby_check_interval = standby_check_interval
        self._standby_seen: float | None = None
        self.settings = settings
        self.role: NodeRole = role
        #: Port of the primary a follower streams from (set before ``start``).
        self.upstream_port: int | None = None
        #: A ready base backup to copy instead of running pg_basebackup (new followers).
        self.seed: Path | None = None
        self._health: psycopg.Connection | None = None
        #: A cached ready cluster to copy instead of initdb / pg_basebackup.
        self.template: ClusterTemplate | None = None

    # -- files ---------------------------------------------------------------------------
    @property
    def node_dir(self) -> Path:
        """data/NAME, owned by the database user."""
        return self.state.data_dir(self.name)

    @property
    def pgdata(self) -> Path:
        """The PostgreSQL data directory."""
        return self.node_dir / "pgdata"

    @property
    def passfile(self) -> Path:
        """libpq password file a follower uses to stream (outside pgdata: not replicated)."""
        return self.node_dir / "pgpass"

    def initialized(self) -> bool:
        """Whether a complete data directory exists."""
        return (self.pgdata / "PG_VERSION").exists()

    def prepare(self) -> None:
        """Create the data directory if needed and (re)write configuration for the role."""
        self._standby_seen = None  # a new server must prove itself
        self.run_as.make_dir(self.node_dir)
        if not self.initialized():
            if self.template is not None:
                # One use only: a later re-clone (rejoin) must copy the current primary.
                template, self.template = self.template, None
                self.seed = template.pgdata
                self._clone()
                if self.role == "primary":
                    # Until bootstrap sets the sandbox's password, log in with the
                    # template's; kept in a file so an interrupted start can resume.
                    write_private(self.template_password_file, template.password)
            elif self.role == "primary":
                self._initdb()
            else:
                self._clone()
        self.write_config()
        self.clear_stale_lock()

    def clear_stale_lock(self) -> None:
        """Delete a ``postmaster.pid`` that no process of this data directory holds.

        A postmaster that was SIGKILLed (fenced in a failover, a ``kill`` fault, the OOM
        killer) leaves its lock file behind. PostgreSQL refuses to start while the pid in
        it belongs to any live process of its user ("lock file already exists"), and pid
        numbers come round again within minutes on a busy machine (pid_max is often
        32768): the node could then never be restarted. A postmaster and its backends all
        work in their data directory, so a holder working anywhere else is a stranger
        that merely got the old number."""
        lock = self.pgdata / LOCK_FILE
        try:
            pid = int(lock.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return  # none, or half-written: PostgreSQL judges it
        try:
            cwd = process_cwd(pid)
        except PermissionError:
            return  # another user's process: PostgreSQL counts it as gone (EPERM) itself
        if cwd is not None and cwd == self.pgdata.resolve():
            return  # a server of this data directory is still there: keep the interlock
        lock.unlink(missing_ok=True)

    @property
    def template_password_file(self) -> Path:
        """Present while the master user still has the template's password."""
        return self.node_dir / "template-password"

    @property
    def login_password(self) -> str:
        """The master user's password as the server knows it right now."""
        try:
            return self.template_password_file.read_text()
        except FileNotFoundError:
            return self.settings.password

    def adopt_password(self) -> None:
        """Give the master user the sandbox's password (after starting from a template)."""
        if not self.template_password_file.exists():
            return
        self.set_master_password(self.settings.password)
        self.template_password_file.unlink()
        self.release()

    def master_verifier(self) -> str:
        """The master user's SCRAM verifier as stored in pg_authid (never the password)."""
        with self.connect(dbname="postgres") as conn:
            row = conn.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (self.settings.username,)
            ).fetchone()
        if row is None or not str(row[0]).startswith("SCRAM-SHA-256$"):
            raise ComponentFailedError(f"{self.name}: master user has no SCRAM verifier")
        return str(row[0])

    def set_master_password(self, password: str) -> None:
        """ALTER ROLE the master user (on the primary; followers get it through WAL)."""
        with self.connect(dbname="postgres") as conn:
            set_role_password(conn, self.settings.username, password)

    def _initdb(self) -> None:
        tmp = self.node_dir / "pgdata.new"
        shutil.rmtree(tmp, ignore_errors=True)
        pwfile = write_private(self.node_dir / "pwfile", self.settings.password, self.run_as)
        try:
            result = run_checked(
                initdb_command(self.binaries, tmp, self.settings.username, pwfile),
                run_as=self.run_as,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise self._tool_failure("initdb", result.stderr)
        tmp.rename(self.pgdata)

    def _clone(self) -> None:
        if self.seed is not None:
            # A fresh base backup shared by several new followers: copying it is much
            # cheaper than one pg_basebackup (checkpoint, walsender) per follower. One use
            # only: the seed is deleted after bring-up.
            seed, self.seed = self.seed, None
            self._install(["cp", "-a", str(seed)], "copying the base backup")
            return
        if self.upstream_port is None:
            raise ComponentFailedError(f"{self.name}: no primary to clone from")
        self.write_passfile()
        self._install(
            base_backup_command(self.binaries, self.upstream_port, slot_name(self.name)),
            "pg_basebackup",
            env={"PGPASSFILE": str(self.passfile), "PATH": "/usr/bin:/bin"},
        )

    def _install(self, argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
        """Run ``argv + [tmpdir]`` to make a data directory, then move it into place."""
        tmp = self.node_dir / "pgdata.new"
        shutil.rmtree(tmp, ignore_errors=True)
        result = run_checked([*argv, str(tmp)], run_as=self.run_as, env=env)
        if result.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise self._tool_failure(what, result.stderr)
        tmp.rename(self.pgdata)

    def make_seed(self, target: Path) -> None:
        """Take one base backup into ``target`` for several new followers to copy; this
        node's replication password file is used to connect."""
        if self.upstream_port is None:
            raise ComponentFailedError(f"{self.name}: no primary to clone from")
        self.run_as.make_dir(self.node_dir)
        self.write_passfile()
        shutil.rmtree(target, ignore_errors=True)
        result = run_checked(
            [*base_backup_command(self.binaries, self.upstream_port, None), str(target)],
            run_as=self.run_as,
            env={"PGPASSFILE": str(self.passfile), "PATH": "/usr/bin:/bin"},
        )
        if result.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise self._tool_failure("pg_basebackup", result.stderr)
        self.seed = target

    def _tool_failure(self, tool: str, stderr: str) -> ComponentFailedError:
        last = " | ".join(line for line in stderr.strip().splitlines()[-3:]) or "no output"
        return ComponentFailedError(f"{self.name}: {tool} failed: {last}")

    def write_passfile(self) -> None:
        """The replication password, in libpq's format, for streaming and cloning."""
        line = f"{HOST}:*:*:{REPLICATION_USER}:{self.settings.replication_password}\n"
        write_private(self.passfile, line, self.run_as)

    def write_config(self) -> None:
        """postgresql.conf, pg_hba.conf and the role's signal file, for the current role."""
        conf = f"""# Written by rdsbox at every start; edit rdsbox's config, not this file.
listen_addresses = '{HOST}'
port = {self.port}
unix_socket_directories = ''
cluster_name = '{self.name}'
max_connections = {self.settings.max_connections}
superuser_reserved_connections = 3
shared_buffers = 64MB
password_encryption = scram-sha-256
wal_level = replica
max_wal_senders = 20
max_replication_slots = 20
wal_log_hints = on
hot_standby = {"off" if self.role == "standby" else "on"}
hot_standby_feedback = on
wal_receiver_status_interval = 1s
# A sandbox: a process crash is safe without fsync (the OS keeps the pages); a machine
# crash is not. Replication, not fsync, is what makes commits survive a failover.
fsync = off
log_line_prefix = '%m [%p] %q%u@%d '
{self._ssl_conf()}include_if_exists = '{RUNTIME_CONF}'
"""
        # With TLS every line is hostssl, replication included (walreceiver, pg_basebackup
        # and pg_rewind use libpq's default sslmode=prefer, so they encrypt too): a plain
        # connection matches no line and is refused, like RDS with rds.force_ssl=1.
        host = "hostssl" if self.settings.tls else "host"
        hba = f"""# Written by rdsbox.
{host} replication {REPLICATION_USER} {HOST}/32 scram-sha-256
{host} all all {HOST}/32 scram-sha-256
"""
        write_private(self.pgdata / "postgresql.conf", conf, self.run_as)
        write_private(self.pgdata / "pg_hba.conf", hba, self.run_as)
        write_private(self.pgdata / "postgresql.auto.conf", "", self.run_as)
        signal_file = self.pgdata / "standby.signal"
        if self.role == "primary":
            signal_file.unlink(missing_ok=True)
            self.write_runtime_conf(sync_standby=None)
        else:
            write_private(signal_file, "", self.run_as)
            self.write_passfile()
            self.write_runtime_conf(sync_standby=None)

    def _ssl_conf(self) -> str:
        tls = self.settings.tls
        if tls is None:
            return ""
        return f"""ssl = on
ssl_cert_file = '{tls.server_cert}'
ssl_key_file = '{tls.server_key}'
ssl_ca_file = '{tls.ca_cert}'
ssl_min_protocol_version = 'TLSv1.2'
"""

    def write_runtime_conf(self, sync_standby: str | None) -> None:
        """Settings that change without a restart; call :meth:`reload` afterwards."""
        lines = ["# Written by rdsbox; changes are applied with a reload."]
        if self.role == "primary" and sync_standby:
            lines.append(f"synchronous_standby_names = '\"{sync_standby}\"'")
        if self.role != "primary" and self.upstream_port is not None:
            conninfo = {
                "host": HOST,
                "port": str(self.upstream_port),
                "user": REPLICATION_USER,
                "passfile": str(self.passfile),
                "application_name": self.name,
                **libpq_options(self.settings.tls),
            }
            joined = " ".join(f"{key}={value}" for key, value in conninfo.items())
            lines.append(f"primary_conninfo = '{joined}'")
            lines.append(f"primary_slot_name = '{slot_name(self.name)}'")
        write_private(self.pgdata / RUNTIME_CONF, "\n".join(lines) + "\n", self.run_as)

    def reload(self) -> None:
        """Re-read configuration (SIGHUP to the postmaster)."""
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    # -- process -------------------------------------------------------------------------
    def command(self) -> list[str]:
        """``postgres -D pgdata``, output to our log."""
        return [str(self.binaries["postgres"]), "-D", str(self.pgdata)]

    def connect(
        self, dbname: str | None = None, timeout: float = 2.0, application_name: str = "rdsbox"
    ) -> psycopg.Connection:
        """A new autocommit connection as the master user."""
        return psycopg.connect(
            host=HOST,
            port=self.port,
            user=self.settings.username,
            password=self.login_password,
            dbname=dbname or self.settings.db_name,
            connect_timeout=max(1, round(timeout)),
            application_name=application_name,
            autocommit=True,
            **libpq_options(self.settings.tls),
        )

    def probe(self) -> bool:
        """Primary/replica: a query answers. Standby (not readable, like RDS): it refuses
        with "hot standby mode is disabled", which proves it is up and replaying.

        The standby's refusal costs a backend fork and a log line each time, so a good
        answer stands for ``standby_check_interval`` while the process lives (a dead
        standby is still noticed at once: the observer and the readiness wait look at
        the process first)."""
        if self.role == "standby" and self._standby_recently_seen():
            return True
        # One kept connection: a new login per check (fork + SCRAM) costs far more.
        try:
            if self._health is None or self._health.closed:
                self._health = self.connect(dbname="postgres", application_name=HEALTH_APP)
            self._health.execute("SELECT 1")
            return True
        except psycopg.OperationalError as exc:
            self.release()
            refused = "hot standby mode is disabled" in str(exc).lower()
            if self.role == "standby" and refused:
                self._standby_seen = time.monotonic()
                return True
            return False
        except psycopg.Error:
            self.release()
            return False

    def _standby_recently_seen(self) -> bool:
        seen = self._standby_seen
        if seen is None or time.monotonic() - seen >= self.standby_check_interval:
            return False
        return self.exit_code() is None and self.pid is not None

    def replication(self) -> list[tuple[str, str, str]]:
        """pg_stat_replication as (application_name, state, sync_state), on the kept
        health connection (call from the observer only: it is not shared)."""
        if self._health is None or self._health.closed:
            return []
        rows = self._health.execute(
            "SELECT application_name, state, sync_state FROM pg_stat_replication"
        ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def release(self) -> None:
        """Close the kept health-check connection (and forget the standby's last answer:
        it is being stopped or restarted)."""
        self._standby_seen = None
        if self._health is not None:
            with contextlib.suppress(psycopg.Error):
                self._health.close()
            self._health = None


def set_role_password(
    conn: psycopg.Connection[Any],
    role: str,
    password: str,
    statement: LiteralString = "ALTER ROLE {} PASSWORD {}",
) -> None:
    """Run ``statement`` (role and password placeholders) with a SCRAM verifier computed
    here in place of the password: the statement never carries the password itself, so a
    server log that records it (an error, ``log_statement``) holds no secret."""
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    conn.execute(sql.SQL(statement).format(sql.Identifier(role), sql.Literal(verifier.decode())))
