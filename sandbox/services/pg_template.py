"""A cached, freshly initialised PostgreSQL cluster that new sandboxes copy instead of
running ``initdb`` (as testing.postgresql's ``cache_initialized_db`` does).

``initdb`` and ``CREATE DATABASE`` create about a thousand files and dominate a cold
start; copying a ready cluster is several times cheaper. The template holds the master
user (with a password of its own, stored beside it) and the application database, and was
shut down cleanly, so it is also a valid cold backup from which standbys and replicas can
start. It is built once per PostgreSQL binary, user and database name, under a lock, in
``RDSBOX_CACHE_DIR`` (default ``~/.cache/rdsbox``, or ``/var/cache/rdsbox`` for root).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sandbox.binaries import Binaries
from sandbox.errors import ComponentFailedError, StateDirError
from sandbox.privileges import RunAs, write_private
from sandbox.process import run_checked
from sandbox.services.initdb import initdb_command

_FORMAT = "1"
#: max_connections the template records in pg_control. A standby refuses to run with
#: less than its primary's recorded value, and no sandbox configures fewer than 10.
TEMPLATE_MAX_CONNECTIONS = 10


@dataclass(frozen=True)
class ClusterTemplate:
    """A ready data directory and the master user's password inside it."""

    pgdata: Path
    password: str


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """Where templates live."""
    environ = os.environ if env is None else env
    if environ.get("RDSBOX_CACHE_DIR"):
        return Path(environ["RDSBOX_CACHE_DIR"])
    if os.geteuid() == 0:
        return Path("/var/cache/rdsbox")
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rdsbox"


class TemplateCache:
    """Get (building when missing) the template for one user and database name."""

    def __init__(
        self, binaries: Binaries, run_as: RunAs, username: str, db_name: str, root: Path
    ) -> None:
        self.binaries = binaries
        self.run_as = run_as
        self.username = username
        self.db_name = db_name
        self.root = root

    @property
    def key(self) -> str:
        """Changes whenever the server binary, user, database or format change."""
        postgres = self.binaries["postgres"].resolve()
        stat = postgres.stat()
        parts = [
            _FORMAT,
            str(postgres),
            str(stat.st_size),
            str(stat.st_mtime_ns),
            self.username,
            self.db_name,
            str(self.run_as.uid),
        ]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]

    def usable(self) -> bool:
        """Whether the database user can reach the cache (else rdsbox runs initdb)."""
        try:
            self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
            self.run_as.check_can_reach(self.root / "x")
        except (OSError, StateDirError):
            return False
        return True

    def get(self) -> ClusterTemplate:
        """The template, built first if missing (one builder at a time)."""
        final = self.root / self.key
        with open(self.root / f"{self.key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (final / "password").exists():
                self._build(final)
        return ClusterTemplate(final / "pgdata", (final / "password").read_text())

    def _build(self, final: Path) -> None:
        work = self.root / f"{self.key}.building"
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        self.run_as.make_dir(work)
        password = secrets.token_urlsafe(24)
        pwfile = write_private(work / "pwfile", password, self.run_as)
        pgdata = work / "pgdata"
        self._run(
            "initdb",
            initdb_command(self.binaries, pgdata, self.username, pwfile),
        )
        pwfile.unlink()
        # Single-user mode needs no port; its clean shutdown leaves a cold-backup-grade
        # cluster whose pg_control records the small max_connections above.
        self._run(
            "postgres --single",
            [
                self.binaries["postgres"],
                "--single",
                "-D",
                pgdata,
                "-c",
                "fsync=off",
                "-c",
                f"max_connections={TEMPLATE_MAX_CONNECTIONS}",
                "postgres",
            ],
            stdin=f'CREATE DATABASE "{self.db_name}";\n',
        )
        _drop_rebuildable_forks(pgdata)
        write_private(work / "password", password)
        work.rename(final)

    def _run(
        self, what: str, argv: Sequence[str | os.PathLike[str]], stdin: str | None = None
    ) -> None:
        result = run_checked(argv, run_as=self.run_as, stdin=stdin)
        if result.returncode != 0 or "ERROR" in result.stderr:
            last = " | ".join(result.stderr.strip().splitlines()[-3:]) or "no output"
            raise ComponentFailedError(
                f"building the PostgreSQL template in {self.root}: {what} failed: {last}; "
                f"delete {self.root} and retry"
            )


def _drop_rebuildable_forks(pgdata: Path) -> None:
    """Delete the free-space-map and visibility-map forks of the catalogs.

    Creating files is the dominant cost of copying a cluster on a small VM, and these are
    a quarter of them. PostgreSQL rebuilds both on demand: a missing FSM is recreated at
    the next insert or vacuum, a missing VM only means "not known all-visible" (index-only
    scans visit the heap, the next vacuum sets the bits again)."""
    for fork in (
        *pgdata.glob("base/*/*_fsm"),
        *pgdata.glob("base/*/*_vm"),
        *pgdata.glob("global/*_fsm"),
        *pgdata.glob("global/*_vm"),
    ):
        fork.unlink()
