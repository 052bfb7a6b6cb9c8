"""Finding the server binaries rdsbox runs, and saying exactly where it looked when it fails."""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sandbox.errors import BinaryNotFoundError

# Debian installs PostgreSQL's server programs in a versioned directory that is not on PATH.
_PG_VERSIONED_DIRS = "/usr/lib/postgresql/*/bin"
_SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


@dataclass(frozen=True)
class BinarySpec:
    """How to find one program: its name, the env override, extra places and the package."""

    name: str
    env_var: str
    package: str
    extra_dirs: tuple[str, ...] = ()
    postgres_bindir: bool = False


SPECS: Mapping[str, BinarySpec] = {
    spec.name: spec
    for spec in (
        BinarySpec("postgres", "RDSBOX_PG_BINDIR", "postgresql-15", postgres_bindir=True),
        BinarySpec("initdb", "RDSBOX_PG_BINDIR", "postgresql-15", postgres_bindir=True),
        BinarySpec("pg_basebackup", "RDSBOX_PG_BINDIR", "postgresql-15", postgres_bindir=True),
        BinarySpec("pg_rewind", "RDSBOX_PG_BINDIR", "postgresql-15", postgres_bindir=True),
        BinarySpec("pg_ctl", "RDSBOX_PG_BINDIR", "postgresql-15", postgres_bindir=True),
        BinarySpec("psql", "RDSBOX_PG_BINDIR", "postgresql-client-15", postgres_bindir=True),
        BinarySpec("pgbench", "RDSBOX_PG_BINDIR", "postgresql-client-15", postgres_bindir=True),
        BinarySpec("pgbouncer", "RDSBOX_PGBOUNCER", "pgbouncer", _SBIN_DIRS),
        BinarySpec("redis-server", "RDSBOX_REDIS_SERVER", "redis-server"),
        BinarySpec("redis-sentinel", "RDSBOX_REDIS_SENTINEL", "redis-sentinel"),
        BinarySpec("redis-cli", "RDSBOX_REDIS_CLI", "redis-tools"),
        BinarySpec("haproxy", "RDSBOX_HAPROXY", "haproxy", _SBIN_DIRS),
    )
}


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _candidates(spec: BinarySpec, env: Mapping[str, str]) -> list[Path]:
    """Every path tried, in order; an env override is the only candidate when set."""
    override = env.get(spec.env_var)
    if override:
        base = Path(override)
        return [base / spec.name] if spec.postgres_bindir else [base]
    tried: list[Path] = []
    if spec.postgres_bindir:
        # Highest major version first: the one a user most likely installed on purpose.
        versioned = sorted(
            glob.glob(_PG_VERSIONED_DIRS),
            key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
            reverse=True,
        )
        tried.extend(Path(d) / spec.name for d in versioned)
    for directory in env.get("PATH", "").split(os.pathsep):
        if directory:
            tried.append(Path(directory) / spec.name)
    tried.extend(Path(d) / spec.name for d in spec.extra_dirs)
    # Order-preserving de-duplication keeps the error message readable.
    return list(dict.fromkeys(tried))


def find_binary(name: str, env: Mapping[str, str] | None = None) -> Path:
    """Return the path of program ``name`` or raise a one-line error listing what was tried."""
    spec = SPECS[name]
    environ = os.environ if env is None else env
    tried = _candidates(spec, environ)
    for path in tried:
        if _is_executable(path):
            return path
    if environ.get(spec.env_var):
        raise BinaryNotFoundError(
            f"{name} not found: {spec.env_var}={environ[spec.env_var]} does not hold an "
            f"executable {name} (tried {', '.join(map(str, tried))}); fix or unset {spec.env_var}"
        )
    raise BinaryNotFoundError(
        f"{name} not found (tried {', '.join(map(str, tried)) or 'nothing: PATH is empty'}); "
        f"install the Debian package '{spec.package}' (bash scripts/setup.sh does) "
        f"or set {spec.env_var}"
    )


@dataclass(frozen=True)
class Binaries:
    """Resolved paths of every program a sandbox needs, found before anything starts."""

    paths: Mapping[str, Path]

    def __getitem__(self, name: str) -> Path:
        return self.paths[name]

    @classmethod
    def discover(cls, names: tuple[str, ...], env: Mapping[str, str] | None = None) -> Binaries:
        """Find every program in ``names``; the first missing one raises."""
        return cls({name: find_binary(name, env) for name in names})
