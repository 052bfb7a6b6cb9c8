"""Where the sandbox's CA and server certificate live, which listeners use them, and the
client options that verify them (sandbox/certs.py makes the files).

On AWS, RDS and ElastiCache present certificates of an Amazon CA that clients are told to
trust; here the sandbox makes a CA of its own in ``STATE/tls/`` and `rdsbox env` names its
certificate (``PGSSLROOTCERT``, ``REDIS_CA_CERT``, ``NODE_EXTRA_CA_CERTS``), so a client
that verifies the server (libpq ``verify-full``, Node's ``rejectUnauthorized``) connects
with nothing else. The server certificate names ``localhost`` and ``127.0.0.1``: every
endpoint is on the loopback address.

Which listeners speak TLS follows the configuration: ``proxy.require_tls`` covers the
database side (the proxy and the PostgreSQL nodes behind the writer and reader endpoints),
``cache.transit_encryption_enabled`` the cache side (Redis and its Sentinels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.statedir import StateDir


def db_tls_enabled(config: SandboxConfig) -> bool:
    """The database side speaks TLS (proxy and PostgreSQL nodes): ``proxy.require_tls``."""
    return config.proxy.require_tls


def cache_tls_enabled(config: SandboxConfig) -> bool:
    """The cache side speaks TLS (Redis and Sentinel): ``cache.transit_encryption_enabled``."""
    return config.cache.transit_encryption_enabled


def tls_enabled(config: SandboxConfig) -> bool:
    """Any listener of the sandbox speaks TLS."""
    return db_tls_enabled(config) or cache_tls_enabled(config)


@dataclass(frozen=True)
class TlsFiles:
    """Where the CA and the server certificate of one sandbox live (``STATE/tls/``)."""

    directory: Path

    @classmethod
    def of(cls, state: StateDir) -> TlsFiles:
        """The files of the sandbox in ``state`` (made by sandbox.certs.ensure_tls_files)."""
        return cls(state.tls_dir)

    @property
    def ca_cert(self) -> Path:
        """The CA certificate clients trust (PEM; not secret)."""
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        """The CA's private key (0600), kept to re-issue the server certificate."""
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        """The server certificate (PEM), issued by the CA."""
        return self.directory / "server.crt"

    @property
    def server_key(self) -> Path:
        """The server's private key (0600, owned by the user that runs the servers)."""
        return self.directory / "server.key"

    def complete(self) -> bool:
        """Whether every file exists."""
        return all(
            p.exists() for p in (self.ca_cert, self.ca_key, self.server_cert, self.server_key)
        )


def libpq_options(tls: TlsFiles | None) -> dict[str, Any]:
    """libpq options for a client that verifies a server using ``tls`` (empty for None, so
    libpq keeps its defaults)."""
    if tls is None:
        return {}
    return {"sslmode": "verify-full", "sslrootcert": str(tls.ca_cert)}


def redis_options(tls: TlsFiles | None) -> dict[str, Any]:
    """redis-py options for a client that verifies a server using ``tls`` (empty for None)."""
    return {} if tls is None else redis_verified(str(tls.ca_cert))


def redis_verified(ca_cert: str | None) -> dict[str, Any]:
    """redis-py options for verified TLS, trusting ``ca_cert`` (None: the system's CAs)."""
    options: dict[str, Any] = {"ssl": True, "ssl_cert_reqs": "required"}
    if ca_cert:
        options["ssl_ca_certs"] = ca_cert
    return options
