"""Helpers shared by the benchmarks: run a sandbox, read its password, run as ``postgres``,
connect as the master user, run pgbench, check the options."""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from sandbox.binaries import find_binary

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DB_USER = "dbadmin"
DB_NAME = "app_database"


def log(message: str) -> None:
    """Progress on stderr, so stdout stays for the results."""
    print(message, file=sys.stderr, flush=True)


def rdsbox_command() -> list[str]:
    """The rdsbox CLI of this interpreter's venv (``python -m sandbox`` as a fallback)."""
    script = Path(sys.executable).parent / "rdsbox"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sandbox"]


def as_postgres() -> dict[str, Any]:
    """subprocess keyword arguments that run a program as ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def give_to_postgres(path: Path) -> None:
    """Hand ``path`` to user postgres (no-op when not root)."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def make_workdir(prefix: str) -> Path:
    """A fresh 0755 directory under /tmp (short path, reachable by user postgres)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so that every ``finally`` cleanup runs."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


@contextmanager
def no_interrupts() -> Iterator[None]:
    """Defer Ctrl-C until the cleanup inside is done (then raise KeyboardInterrupt), so a
    Ctrl-C during cleanup neither leaves servers behind nor gets lost."""
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def run_pg(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a PostgreSQL program (as postgres when root) to completion; its stdout+stderr.
    Raises with the program's error output when it fails."""
    result = subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd=cwd, env=env, **as_postgres()
    )
    if result.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed: {result.stderr.strip()}")
    return str(result.stdout) + str(result.stderr)


def connect_db(
    port: int, password: str, dbname: str = DB_NAME, **options: Any
) -> psycopg.Connection[Any]:
    """A connection as the master user to ``dbname`` on ``port``; ``options`` go to
    ``psycopg.connect`` (autocommit, connect_timeout, ...)."""
    return psycopg.connect(
        host=HOST, port=port, user=DB_USER, password=password, dbname=dbname, **options
    )


def pg_env(port: int, password: str) -> dict[str, str]:
    """The environment of a PostgreSQL client program (pgbench) connecting as the master
    user on ``port``."""
    return {
        **os.environ,
        "PGHOST": HOST,
        "PGPORT": str(port),
        "PGUSER": DB_USER,
        "PGPASSWORD": password,
    }


def run_pgbench(args: list[str], port: int, password: str, cwd: Path) -> str:
    """``pgbench ARGS app_database`` as the master user on ``port``; its output."""
    return run_pg([str(find_binary("pgbench")), *args, DB_NAME], cwd, pg_env(port, password))


def check_port_base(parser: argparse.ArgumentParser, port_base: int, ports: int) -> None:
    """Stop with a usage error unless the ``ports`` ports from ``port_base`` lie between
    1024 and 32767."""
    if not 1024 <= port_base <= 32768 - ports:
        parser.error(f"--port-base must leave its {ports} ports between 1024 and 32767")


def wait_accepting(port: int, password: str, proc: subprocess.Popen[bytes], what: str) -> None:
    """Poll until the server on ``port`` accepts a connection as the master user."""
    deadline = time.monotonic() + 60
    while True:
        try:
            connect_db(port, password, "postgres", connect_timeout=2).close()
            return
        except psycopg.OperationalError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start: {exc}") from exc
            time.sleep(0.01)


def stop_processes(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT (PostgreSQL's fast shutdown) to each, then wait; SIGKILL after 30 s."""
    with no_interrupts():
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def median(values: list[float]) -> float:
    """The median (mean of the middle two for an even count)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class Sandbox:
    """One rdsbox sandbox in a fresh state dir; :meth:`up` times the start, :meth:`down`
    stops it and deletes the data (always call it, e.g. in ``finally``)."""

    def __init__(
        self, port_base: int, extra: tuple[str, ...] = (), config: str | None = None
    ) -> None:
        self.port_base = port_base
        self.extra = extra
        self.workdir = make_workdir("rdsbox-bench-")
        self.state_dir = self.workdir / "s"
        self.status: dict[str, Any] = {}
        #: YAML text of an rdsbox.yaml for this sandbox (None: the defaults).
        self.config_file: Path | None = None
        if config is not None:
            self.config_file = self.workdir / "rdsbox.yaml"
            self.config_file.write_text(config)

    def _cli(self, *args: str) -> list[str]:
        config = ["--config", str(self.config_file)] if self.config_file else []
        return [*rdsbox_command(), "--state-dir", str(self.state_dir), *config, *args]

    def stop(self) -> None:
        """``rdsbox down`` keeping the data, so a later :meth:`up` resumes it."""
        subprocess.run(self._cli("down"), capture_output=True, check=True, cwd=REPO)

    def up(self) -> float:
        """``rdsbox up --json``; returns the wall-clock seconds until it returned healthy."""
        argv = self._cli("--port-base", str(self.port_base), "up", "--json", *self.extra)
        began = time.monotonic()
        result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
        elapsed = time.monotonic() - began
        if result.returncode != 0:
            raise RuntimeError(
                f"rdsbox up failed (exit {result.returncode}):\n{result.stderr}{result.stdout}"
            )
        self.status = json.loads(result.stdout)
        unhealthy = [c["name"] for c in self.status["components"] if not c["healthy"]]
        if unhealthy or not self.status.get("healthy", False):
            raise RuntimeError(f"rdsbox up returned but not healthy: {unhealthy}")
        return elapsed

    def down(self) -> None:
        """``rdsbox down --purge`` and delete the work directory; never raises."""
        with no_interrupts():
            if self.state_dir.exists():
                result = subprocess.run(
                    self._cli("down", "--purge"),
                    capture_output=True,
                    text=True,
                    check=False,
                    cwd=REPO,
                    start_new_session=True,  # out of reach of the terminal's Ctrl-C
                )
                if result.returncode != 0:
                    log(f"rdsbox down failed (exit {result.returncode}): {result.stderr.strip()}")
            shutil.rmtree(self.workdir, ignore_errors=True)

    def refresh(self) -> dict[str, Any]:
        """Re-read the status (`rdsbox status --json`); roles change across failovers."""
        result = subprocess.run(
            self._cli("status", "--json"), capture_output=True, text=True, check=False, cwd=REPO
        )
        self.status = json.loads(result.stdout)
        return self.status

    def password(self) -> str:
        """The master user's password, from the state dir's credentials.json."""
        credentials = json.loads((self.state_dir / "credentials.json").read_text())
        return str(credentials["db_password"])

    def connect(self, endpoint: str, autocommit: bool = False) -> psycopg.Connection:
        """A connection as the master user to the application database via ``endpoint``."""
        return connect_db(self.endpoint_port(endpoint), self.password(), autocommit=autocommit)

    def endpoint_port(self, name: str) -> int:
        """Port of a named endpoint (writer, reader, proxy, ...)."""
        return int(self.status["endpoints"][name]["port"])

    def primary_port(self) -> int:
        """The PostgreSQL primary's own port."""
        for component in self.status["components"]:
            if component["kind"] == "postgres" and component["role"] == "primary":
                return int(component["port"])
        raise RuntimeError("no postgres primary in the sandbox status")
