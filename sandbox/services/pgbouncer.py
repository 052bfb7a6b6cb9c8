"""PgBouncer standing in for RDS Proxy.

Mapping of the RDS Proxy settings (see docs/mapping.md for where it is approximate):

* ``max_connections_percent`` -> ``max_db_connections`` and ``default_pool_size``: that share
  of the database's ``max_connections``;
* ``max_idle_connections_percent`` -> ``min_pool_size`` is *not* used (it is a floor, RDS's
  setting is a ceiling); idle server connections are closed after ``server_idle_timeout``;
* ``connection_borrow_timeout`` -> ``query_wait_timeout``;
* ``idle_client_timeout`` -> ``client_idle_timeout``;
* ``require_tls`` -> ``client_tls_sslmode = require`` with the sandbox's server certificate
  (sandbox/tls.py); the PostgreSQL nodes then accept only TLS, so server connections use
  ``server_tls_sslmode = verify-full`` as RDS Proxy encrypts its link to the database.

Authentication is the RDS Proxy ``SECRETS`` scheme: the auth file holds the SCRAM verifier
read from the primary, never the password. With a verifier PgBouncer authenticates clients
and then logs in to the server with the client's proof (SCRAM pass-through); with a plain
password its single thread would re-derive the SCRAM key on every login.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import psycopg

from sandbox.privileges import write_private
from sandbox.services.base import HOST, ManagedServer, ServerContext
from sandbox.tls import TlsFiles, libpq_options

# RDS Proxy accepts far more clients than the database allows connections.
MAX_CLIENT_CONNECTIONS = 5000


@dataclass(frozen=True)
class PoolSettings:
    """The proxy's pool, already translated from the RDS Proxy settings."""

    username: str
    password: str
    db_name: str
    pool_size: int
    idle_client_timeout: int
    borrow_timeout: int
    #: Require TLS from clients (``require_tls``); None: plain connections.
    tls: TlsFiles | None = None


class PgBouncer(ManagedServer):
    """One ``pgbouncer`` process in transaction pooling mode."""

    kind = "pgbouncer"
    stop_signal: ClassVar[signal.Signals] = signal.SIGINT
    runs_unprivileged = True

    def __init__(self, name: str, port: int, context: ServerContext, pool: PoolSettings) -> None:
        super().__init__(name, port, context)
        self.pool = pool
        #: Port of the database node the pool connects to (the writer).
        self.target_port: int | None = None
        #: SCRAM verifier of the master user, as stored in pg_authid.
        self.verifier: str | None = None
        #: Where server connections go instead of ``target_port`` (a fault relay), if set.
        self.upstream_override: int | None = None
        self._console: psycopg.Connection | None = None
        self._lock = threading.Lock()

    @property
    def conf_dir(self) -> Path:
        """conf/NAME, owned by the database user."""
        return self.state.conf_dir(self.name)

    @property
    def ini_path(self) -> Path:
        """pgbouncer.ini."""
        return self.conf_dir / "pgbouncer.ini"

    def prepare(self) -> None:
        """Write pgbouncer.ini and the auth file (SCRAM verifier only)."""
        if self.target_port is None or self.verifier is None:
            raise ValueError("PgBouncer needs target_port and verifier before start")
        self.run_as.make_dir(self.conf_dir)
        userlist = f'"{self.pool.username}" "{self.verifier}"\n'
        write_private(self.conf_dir / "userlist.txt", userlist, self.run_as)
        write_private(self.ini_path, self.render_ini(), self.run_as)

    def render_ini(self) -> str:
        """The pgbouncer.ini for the current target."""
        pool = self.pool
        return f"""; Written by rdsbox from the proxy settings.
[databases]
* = host={HOST} port={self.upstream_override or self.target_port}

[pgbouncer]
listen_addr = {HOST}
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.conf_dir / "userlist.txt"}
admin_users = {pool.username}
stats_users = {pool.username}
pool_mode = transaction
max_client_conn = {MAX_CLIENT_CONNECTIONS}
default_pool_size = {pool.pool_size}
max_db_connections = {pool.pool_size}
min_pool_size = 0
reserve_pool_size = 0
query_wait_timeout = {pool.borrow_timeout}
client_idle_timeout = {pool.idle_client_timeout}
server_idle_timeout = 60
server_connect_timeout = 5
server_login_retry = 0.1
ignore_startup_parameters = extra_float_digits,options,search_path
application_name_add_host = 0
log_connections = 0
log_disconnections = 0
; SHOW STATS totals refresh once per stats_period: 1 s for the metrics collector.
stats_period = 1
log_stats = 0
{self._tls_ini()}"""

    def _tls_ini(self) -> str:
        tls = self.pool.tls
        if tls is None:
            return ""
        return f"""client_tls_sslmode = require
client_tls_key_file = {tls.server_key}
client_tls_cert_file = {tls.server_cert}
client_tls_ca_file = {tls.ca_cert}
server_tls_sslmode = verify-full
server_tls_ca_file = {tls.ca_cert}
"""

    def accept_password(self, password: str, verifier: str, paused: bool = False) -> bool:
        """Log clients in with a new password from now on (RELOAD with its verifier), then
        log in once with it: server logins reuse the SCRAM keys of the latest client
        login, which must be the new password's before the pool opens server connections.

        ``paused``: the pool is PAUSEd; it is resumed once that login went through (see
        :meth:`_log_in_through_pause`). Returns whether the pool is still paused (never)."""
        self.pool = replace(self.pool, password=password)
        self.verifier = verifier
        self.prepare()
        self.admin("RELOAD")
        if paused:
            self._log_in_through_pause()
            return False
        self.connect().close()
        return False

    def _log_in_through_pause(self, timeout: float = 5.0) -> None:
        """Log in while the pool is PAUSEd, then RESUME it.

        A login needs the server parameters PgBouncer answers logins with; it has none
        before its first server connection, and with TLS to the database it drops them
        (and its server connections) at every RELOAD, since it cannot tell whether the
        TLS settings changed. Such a login waits for a new server connection, which a
        paused pool does not open. So the login is started in a thread; once it is done,
        or PgBouncer has authenticated it (then it holds the new SCRAM keys and waits for
        a server), the pool is resumed and any server login uses the new keys."""
        name = f"rdsbox-login-{threading.get_ident()}"
        with ThreadPoolExecutor(max_workers=1) as pool:
            login = pool.submit(self._login_once, name, timeout)
            deadline = time.monotonic() + timeout
            while not login.done() and time.monotonic() < deadline:
                if self._client_waiting(name):
                    break
                time.sleep(0.01)
            self.resume()
            login.result()

    def resume(self) -> None:
        """RESUME the pool; one that is not paused (any more) is left as it is."""
        try:
            self.admin("RESUME")
        except psycopg.Error as exc:
            if "not paused" not in str(exc):
                raise

    def _login_once(self, application_name: str, timeout: float) -> None:
        self.connect(timeout, application_name).close()

    def _client_waiting(self, application_name: str) -> bool:
        """Whether a client of that name has logged in and waits (for a server)."""
        rows = self.admin("SHOW CLIENTS")
        # Columns: type, user, database, state, ... application_name last.
        return any(row[3] == "waiting" and row[-1] == application_name for row in rows)

    def command(self) -> list[str]:
        """Foreground pgbouncer (logs to stderr, i.e. our log file)."""
        return [str(self.binaries["pgbouncer"]), str(self.ini_path)]

    def connect(self, timeout: float = 2.0, application_name: str = "rdsbox") -> psycopg.Connection:
        """A client connection through the pool to the application database."""
        return psycopg.connect(
            host=HOST,
            port=self.port,
            user=self.pool.username,
            password=self.pool.password,
            dbname=self.pool.db_name,
            connect_timeout=max(1, round(timeout)),
            application_name=application_name,
            autocommit=True,
            prepare_threshold=None,
            **libpq_options(self.pool.tls),
        )

    def open_console(self, timeout: float = 2.0) -> psycopg.Connection:
        """A new connection to the admin console (the caller closes it)."""
        return psycopg.connect(
            host=HOST,
            port=self.port,
            user=self.pool.username,
            password=self.pool.password,
            dbname="pgbouncer",
            connect_timeout=max(1, round(timeout)),
            autocommit=True,
            prepare_threshold=None,
            **libpq_options(self.pool.tls),
        )

    def admin(self, command: str, timeout: float = 2.0) -> list[tuple[object, ...]]:
        """Run a console command (``SHOW POOLS``, ``RELOAD``, ``PAUSE``...) and return rows.

        The console connection is kept between calls (one login per call would cost a
        SCRAM exchange each) and reopened after an error."""
        with self._lock:
            try:
                if self._console is None or self._console.closed:
                    self._console = self.open_console(timeout)
                return console_query(self._console, command)[1]
            except psycopg.Error:
                self._close_console()
                raise

    def _close_console(self) -> None:
        if self._console is not None:
            with contextlib.suppress(psycopg.Error):
                self._console.close()
            self._console = None

    def release(self) -> None:
        """Close the kept console connection."""
        with self._lock:
            self._close_console()

    def probe(self) -> bool:
        """The admin console answers (the pool itself may still be empty)."""
        try:
            self.admin("SHOW VERSION")
            return True
        except psycopg.Error:
            return False


def console_query(
    console: psycopg.Connection, command: str
) -> tuple[list[str], list[tuple[object, ...]]]:
    """Run one admin-console command; its column names and rows."""
    # The console speaks only the simple query protocol.
    cur = console.cursor()
    cur.execute(command.encode(), prepare=False)
    if cur.description is None:
        return [], []
    return [column.name for column in cur.description], list(cur.fetchall())
