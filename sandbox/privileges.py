"""Who runs the database processes: PostgreSQL (and PgBouncer) refuse to run as root.

When rdsbox itself runs as root it runs those servers as an unprivileged user instead
(``postgres`` when the Debian package created it, else ``nobody``; ``RDSBOX_RUN_AS``
chooses another). Files they must read are handed to that user; everything else stays
with the invoking user.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sandbox.errors import StateDirError

_DEFAULT_USERS = ("postgres", "nobody")


@dataclass(frozen=True)
class RunAs:
    """The identity database processes run under (``uid is None``: the current user)."""

    name: str
    uid: int | None = None
    gid: int | None = None

    @property
    def switches(self) -> bool:
        """True when servers must drop privileges to this user."""
        return self.uid is not None

    @classmethod
    def detect(cls, env: Mapping[str, str] | None = None) -> RunAs:
        """The current user, or when root an unprivileged one that exists on this machine."""
        environ = os.environ if env is None else env
        if os.geteuid() != 0:
            return cls(pwd.getpwuid(os.geteuid()).pw_name)
        wanted = environ.get("RDSBOX_RUN_AS")
        for name in (wanted,) if wanted else _DEFAULT_USERS:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            if entry.pw_uid == 0:
                break
            return cls(name, entry.pw_uid, entry.pw_gid)
        raise StateDirError(
            f"running as root, but no unprivileged user to run PostgreSQL as "
            f"(tried {wanted or ', '.join(_DEFAULT_USERS)}); create one or set RDSBOX_RUN_AS"
        )

    def environment(self) -> dict[str, str] | None:
        """The environment of a process run as this user: ours with its own ``HOME`` (None
        when not switching: the child inherits ours). Without it the servers would look in
        root's home for per-user files (libpq's ~/.postgresql/postgresql.crt when a
        standby connects to its primary over TLS) and fail on the permission."""
        if self.uid is None:
            return None
        return {**os.environ, "HOME": pwd.getpwuid(self.uid).pw_dir}

    def give(self, path: Path) -> None:
        """Hand ``path`` to this user (no-op when not switching)."""
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    def make_dir(self, path: Path, owned: bool = True) -> Path:
        """Create ``path`` (mode 0700); ``owned`` hands it to this user."""
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if owned:
            self.give(path)
        return path

    def open_dir_to(self, path: Path) -> None:
        """Let this user traverse ``path`` (but not list it) via its group; others get nothing."""
        if self.gid is None:
            path.chmod(0o700)
            return
        os.chown(path, -1, self.gid)
        path.chmod(0o710)

    def check_can_reach(self, path: Path) -> None:
        """Raise when this user cannot traverse every ancestor of ``path`` (``path`` itself
        is rdsbox's to open up)."""
        if self.uid is None:
            return
        groups = {g.gr_gid for g in grp.getgrall() if self.name in g.gr_mem} | {self.gid}
        for ancestor in reversed(path.resolve().parents):
            st = ancestor.stat()
            if st.st_uid == self.uid:
                ok = bool(st.st_mode & stat.S_IXUSR)
            elif st.st_gid in groups:
                ok = bool(st.st_mode & stat.S_IXGRP)
            else:
                ok = bool(st.st_mode & stat.S_IXOTH)
            if not ok:
                raise StateDirError(
                    f"state dir {path} is not reachable by user '{self.name}', which runs "
                    f"PostgreSQL because rdsbox runs as root: {ancestor} has mode "
                    f"{stat.S_IMODE(st.st_mode):04o}; choose a --state-dir under a directory "
                    f"that user can enter (e.g. /tmp/rdsbox) or run rdsbox as a normal user"
                )


def write_private(path: Path, text: str, owner: RunAs | None = None) -> Path:
    """Write ``text`` to a 0600 file (secrets live in such files), handed to ``owner``."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)
    if owner is not None:
        owner.give(path)
    return path
