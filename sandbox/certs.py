"""Making the sandbox's own certificate authority and the server certificate every TLS
listener uses (PostgreSQL, PgBouncer, Redis, Sentinel), once per state dir.

Kept apart from sandbox/tls.py so that only `up` with TLS on pays for importing
``cryptography``; the servers and clients need only the file paths.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.privileges import RunAs, write_private
from sandbox.statedir import StateDir
from sandbox.tls import TlsFiles

#: What the server certificate is valid for: every listener binds 127.0.0.1.
SERVER_DNS_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1",)
CA_DAYS = 3650
SERVER_DAYS = 825
# Certificates valid from a little in the past: a clock that differs by a few seconds
# between processes must not make a fresh certificate "not yet valid".
_BACKDATE = datetime.timedelta(minutes=5)


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
