"""The sandbox's own certificate authority and the server certificate every TLS listener
uses (PostgreSQL, PgBouncer, Redis, Sentinel), made once per state dir.

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

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.config import SandboxConfig
from sandbox.privileges import RunAs, write_private
from sandbox.statedir import StateDir

#: What the server certificate is valid for: every listener binds 127.0.0.1.
SERVER_DNS_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1",)
CA_DAYS = 3650
SERVER_DAYS = 825
# Certificates valid from a little in the past: a clock that differs by a few seconds
# between processes must not make a fresh certificate "not yet valid".
_BACKDATE = datetime.timedelta(minutes=5)


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
        """The files of the sandbox in ``state`` (made by :func:`ensure_tls_files`)."""
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


def ensure_tls_files(state: StateDir, run_as: RunAs) -> TlsFiles:
    """Make the CA and the server certificate unless this state dir already has them.

    Generated once, so clients that saved the CA (a browser, a trust store) keep trusting
    the sandbox across restarts. Keys are 0600 and handed to ``run_as``: PostgreSQL refuses
    a key file it does not own, and PgBouncer runs as that user too (Redis runs as the
    invoking user, who owns or, as root, can read everything)."""
    files = TlsFiles.of(state)
    if files.complete():
        return files
    run_as.make_dir(files.directory)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key, state)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _server_certificate(server_key, ca_key, ca_cert)
    write_private(files.ca_key, _pem_key(ca_key), run_as)
    write_private(files.server_key, _pem_key(server_key), run_as)
    _write_public(files.server_cert, server_cert, run_as)
    # The CA certificate last: its presence with the others marks the set complete.
    _write_public(files.ca_cert, ca_cert, run_as)
    return files


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "rdsbox sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity(builder: x509.CertificateBuilder, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - _BACKDATE).not_valid_after(
        now + datetime.timedelta(days=days)
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, state: StateDir) -> x509.Certificate:
    # The state dir in the name tells two sandboxes' CAs apart in a trust store.
    name = _name(f"rdsbox sandbox CA ({state.root.name})"[:64])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return _validity(builder, CA_DAYS).sign(key, hashes.SHA256())


def _server_certificate(
    key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> x509.Certificate:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # Client use too: Redis replicas and Sentinels load the same certificate for
            # their outgoing links (no server asks for it: tls-auth-clients no).
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    return _validity(builder, SERVER_DAYS).sign(ca_key, hashes.SHA256())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _write_public(path: Path, cert: x509.Certificate, owner: RunAs) -> None:
    write_private(path, cert.public_bytes(serialization.Encoding.PEM).decode(), owner)
    # Certificates are public; readable by anyone who can enter the (0700) state dir.
    os.chmod(path, 0o644)
