"""The state directory: where one sandbox keeps its config, data, logs, pid files and secrets.

Layout::

    STATE/
      config.json            resolved configuration of the last `up`
      credentials.json       generated passwords and tokens (0600)
      control.json           control API port and supervisor pid; control.token (0600)
      topology.json          current roles (survives restarts, so a failed-over sandbox
                             comes back with the same primary)
      run/NAME.pid           one pid file per process (pid, start time, command)
      logs/NAME.log          one log per process
      conf/NAME/             generated config files
      data/NAME/             data directories
      tls/                   the sandbox CA and server certificate (keys 0600), when TLS is on
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sandbox.errors import StateDirError

STATE_DIR_ENV = "RDSBOX_STATE_DIR"
DEFAULT_STATE_DIR = ".rdsbox"
# Unix socket paths (HAProxy's runtime API) are limited to 107 bytes; leave room for names.
_MAX_PATH_LEN = 80


@dataclass(frozen=True)
class StateDir:
    """Paths inside one sandbox's state directory; creating them is explicit (``ensure``)."""

    root: Path

    @classmethod
    def resolve(cls, option: str | os.PathLike[str] | None, cwd: Path | None = None) -> StateDir:
        """``--state-dir`` beats ``RDSBOX_STATE_DIR`` beats ``.rdsbox`` in the working dir."""
        chosen = option or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
        root = Path(chosen).expanduser()
        if not root.is_absolute():
            root = (cwd or Path.cwd()) / root
        root = Path(os.path.normpath(root))
        if any(ch.isspace() for ch in str(root)):
            raise StateDirError(
                f"state dir path {str(root)!r} contains white space, which the servers' "
                f"config files cannot hold; choose a --state-dir without spaces"
            )
        if len(str(root)) > _MAX_PATH_LEN:
            raise StateDirError(
                f"state dir path {root} is {len(str(root))} characters long, too long for the "
                f"unix sockets kept in it (at most {_MAX_PATH_LEN}); choose a shorter --state-dir"
            )
        return cls(root)

    def ensure(self) -> StateDir:
        """Create the directory tree (0700: it holds secrets).

        An existing root is tightened to 0700, except one that grants exactly group
        traverse (0710): `up` gives that to the database user's group when PostgreSQL
        runs as another user (:meth:`sandbox.privileges.RunAs.open_dir_to`). Taking it
        away while the sandbox runs (a background job calls this) locks PostgreSQL out
        of its own data directory: at its next checkpoint it cannot open
        ``global/pg_control`` (PANIC), and it cannot be restarted."""
        for directory in (self.root, self.run, self.logs, self.conf_root, self.data_root):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        granted = stat.S_IMODE(self.root.stat().st_mode) & 0o077 == stat.S_IXGRP
        self.root.chmod(0o710 if granted else 0o700)
        return self

    @property
    def exists(self) -> bool:
        """Whether a sandbox was ever set up here."""
        return self.config_file.exists()

    @property
    def run(self) -> Path:
        """Pid files and sockets."""
        return self.root / "run"

    @property
    def logs(self) -> Path:
        """One log file per process."""
        return self.root / "logs"

    @property
    def conf_root(self) -> Path:
        """Generated configuration, one folder per component."""
        return self.root / "conf"

    @property
    def data_root(self) -> Path:
        """Data directories, one per component."""
        return self.root / "data"

    @property
    def tls_dir(self) -> Path:
        """The sandbox's CA and server certificate (see sandbox/tls.py)."""
        return self.root / "tls"

    @property
    def config_file(self) -> Path:
        """The resolved configuration the sandbox was started with."""
        return self.root / "config.json"

    @property
    def credentials_file(self) -> Path:
        """Generated passwords and tokens."""
        return self.root / "credentials.json"

    @property
    def control_file(self) -> Path:
        """Control API address and supervisor pid."""
        return self.root / "control.json"

    @property
    def token_file(self) -> Path:
        """The control API's bearer token."""
        return self.root / "control.token"

    @property
    def topology_file(self) -> Path:
        """Current roles of the nodes."""
        return self.root / "topology.json"

    @property
    def events_file(self) -> Path:
        """RDS-style events, one JSON object per line."""
        return self.root / "events.jsonl"

    @property
    def metrics_file(self) -> Path:
        """SQLite store of the CloudWatch-style metric series."""
        return self.root / "metrics.db"

    @property
    def supervisor_log(self) -> Path:
        """What the supervisor itself logs."""
        return self.logs / "supervisor.log"

    def pid_file(self, name: str) -> Path:
        """Pid file of component (or process) ``name``."""
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        """Log file of component ``name``."""
        return self.logs / f"{name}.log"

    def conf_dir(self, name: str) -> Path:
        """Config folder of component ``name``."""
        return self.conf_root / name

    def data_dir(self, name: str) -> Path:
        """Data folder of component ``name``."""
        return self.data_root / name
