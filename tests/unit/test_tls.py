"""The sandbox CA and server certificate, and the TLS part of `rdsbox env` and the configs."""

from __future__ import annotations

import ipaddress
import os
import pwd
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from sandbox.certs import ensure_tls_files
from sandbox.client_env import ENV_NAMES, TLS_ENV_NAMES, client_env, libpq_tls, redis_tls
from sandbox.config import SandboxConfig
from sandbox.privileges import RunAs
from sandbox.services.redis import tls_lines
from sandbox.statedir import StateDir
from sandbox.tls import TlsFiles, libpq_options, redis_options
from sandbox.topology import Topology
from tests.unit.conftest import MakeCluster


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    # The current user: no chown (as when rdsbox runs unprivileged).
    return ensure_tls_files(StateDir(tmp_path / "state"), RunAs("me"))


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_server_certificate_names_localhost_and_the_loopback_ip(tls: TlsFiles) -> None:
    server, ca = _cert(tls.server_cert), _cert(tls.ca_cert)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)  # raises when the CA did not sign it
    usage = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_keys_are_private_and_files_are_made_once(tls: TlsFiles) -> None:
    assert stat.S_IMODE(os.stat(tls.server_key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tls.ca_key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tls.directory).st_mode) == 0o700
    before = tls.ca_cert.read_bytes(), tls.server_key.read_bytes()
    again = ensure_tls_files(StateDir(tls.directory.parent), RunAs("me"))
    assert (again.ca_cert.read_bytes(), again.server_key.read_bytes()) == before


def test_an_incomplete_set_is_made_anew(tls: TlsFiles) -> None:
    old_ca = tls.ca_cert.read_bytes()
    tls.server_key.unlink()
    again = ensure_tls_files(StateDir(tls.directory.parent), RunAs("me"))
    assert again.complete() and again.ca_cert.read_bytes() != old_ca


def _env(config: SandboxConfig, ca: Path | None) -> dict[str, str]:
    return client_env(Topology(config), secret_arn="arn", redis_auth_token="t", ca_cert=ca)


def test_env_adds_tls_names_only_for_the_sides_that_use_tls(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    plain = SandboxConfig()
    assert list(_env(plain, ca)) == list(ENV_NAMES)
    both = SandboxConfig.model_validate(
        {"proxy": {"require_tls": True}, "cache": {"transit_encryption_enabled": True}}
    )
    env = _env(both, ca)
    assert list(env) == [*ENV_NAMES, *TLS_ENV_NAMES]
    assert env["PGSSLMODE"] == "verify-full" and env["REDIS_TLS"] == "1"
    assert env["PGSSLROOTCERT"] == env["REDIS_CA_CERT"] == env["NODE_EXTRA_CA_CERTS"] == str(ca)
    cache_only = SandboxConfig.model_validate({"cache": {"transit_encryption_enabled": True}})
    assert [n for n in _env(cache_only, ca) if n not in ENV_NAMES] == [
        "REDIS_TLS",
        "REDIS_CA_CERT",
        "NODE_EXTRA_CA_CERTS",
    ]
    # The compose backend passes no CA: no TLS names, whatever the configuration says.
    assert list(_env(both, None)) == list(ENV_NAMES)


def test_client_options_from_env_and_from_files(tls: TlsFiles) -> None:
    ca = str(tls.ca_cert)
    env = {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": ca, "REDIS_TLS": "1", "REDIS_CA_CERT": ca}
    assert libpq_tls(env) == libpq_options(tls) == {"sslmode": "verify-full", "sslrootcert": ca}
    assert redis_tls(env) == redis_options(tls)
    assert redis_tls(env) == {"ssl": True, "ssl_cert_reqs": "required", "ssl_ca_certs": ca}
    assert libpq_tls({}) == redis_tls({"REDIS_TLS": "0"}) == libpq_options(None) == {}


def test_redis_listens_on_a_tls_port_only(tls: TlsFiles) -> None:
    assert tls_lines(6379, None) == ["port 6379"]
    lines = tls_lines(6379, tls)
    assert "port 0" in lines and "tls-port 6379" in lines
    assert "tls-replication yes" in lines and "tls-auth-clients no" in lines
    assert f"tls-key-file {tls.server_key}" in lines


def test_a_tls_config_reaches_every_server(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(
        {"proxy": {"require_tls": True}, "cache": {"transit_encryption_enabled": True}}
    )
    proxy = cluster.proxy
    assert proxy is not None
    proxy.target_port, proxy.verifier = cluster.primary.port, "SCRAM-SHA-256$x"
    ini = proxy.render_ini()
    assert "client_tls_sslmode = require" in ini
    assert f"client_tls_cert_file = {TlsFiles.of(cluster.state).server_cert}" in ini
    assert "server_tls_sslmode = verify-full" in ini
    primary = cluster.primary
    primary.pgdata.mkdir(parents=True)
    primary.write_config()
    hba = (primary.pgdata / "pg_hba.conf").read_text().splitlines()[1:]
    assert hba and all(line.startswith("hostssl ") for line in hba)
    assert "ssl = on" in (primary.pgdata / "postgresql.conf").read_text()
    assert all(
        node.tls is not None for node in [*cluster.redis.values(), *cluster.sentinels.values()]
    )


def test_the_default_config_has_no_tls_anywhere(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    assert cluster.proxy is not None and cluster.proxy.pool.tls is None
    assert cluster.primary.settings.tls is None
    assert all(node.tls is None for node in [*cluster.redis.values(), *cluster.sentinels.values()])


def test_the_container_backend_refuses_tls_before_looking_for_docker(tmp_path: Path) -> None:
    from sandbox.backends.docker import DockerSandbox
    from sandbox.errors import ConfigError

    config = SandboxConfig.model_validate({"proxy": {"require_tls": True}})
    with pytest.raises(ConfigError, match="native backend only"):
        DockerSandbox.start(config, StateDir(tmp_path / "d"), lambda *_: None)
    assert not (tmp_path / "d").exists()


def test_unprivileged_servers_get_their_own_home() -> None:
    assert RunAs("me").environment() is None  # not switching: the child inherits ours
    me = pwd.getpwuid(os.getuid())
    env = RunAs(me.pw_name, me.pw_uid, me.pw_gid).environment()
    # The user's home from the password database, not whatever $HOME says.
    assert env is not None and env["HOME"] == me.pw_dir and env["PATH"] == os.environ["PATH"]
