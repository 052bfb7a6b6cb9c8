"""Unit tests of the PgBouncer configuration standing in for RDS Proxy (nothing runs)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sandbox.services.pgbouncer import PgBouncer
from sandbox.supervisor.cluster import Cluster
from tests.unit.conftest import MakeCluster

VERIFIER = "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$c3RvcmVka2V5$c2VydmVya2V5"
PROXY_SETTINGS = {
    "max_connections_percent": 40,
    "connection_borrow_timeout": 37,
    "idle_client_timeout": 901,
}


def settings(ini: str) -> dict[str, str]:
    """``key = value`` lines of pgbouncer.ini (each key must appear once)."""
    result: dict[str, str] = {}
    for line in ini.splitlines():
        if "=" not in line or line.startswith((";", "[")):
            continue
        key, _, value = line.partition("=")
        assert key.strip() not in result, f"{key.strip()} set twice"
        result[key.strip()] = value.strip()
    return result


@pytest.fixture
def cluster(make_cluster: MakeCluster) -> Cluster:
    """A sandbox with a proxy whose settings differ from the defaults."""
    return make_cluster(
        {
            "port_base": 20000,
            "database": {"max_connections": 1000},
            "proxy": PROXY_SETTINGS,
        }
    )


@pytest.fixture
def proxy(cluster: Cluster) -> PgBouncer:
    """The cluster's proxy, pointed at the primary with a verifier."""
    assert cluster.proxy is not None
    cluster.proxy.target_port = cluster.primary.port
    cluster.proxy.verifier = VERIFIER
    return cluster.proxy


def test_proxy_settings_are_mapped(proxy: PgBouncer) -> None:
    ini = settings(proxy.render_ini())
    assert ini["default_pool_size"] == "400"  # 1000 * 40 / 100
    assert ini["max_db_connections"] == "400"
    assert ini["query_wait_timeout"] == "37"
    assert ini["client_idle_timeout"] == "901"
    assert ini["pool_mode"] == "transaction"
    assert ini["auth_type"] == "scram-sha-256"
    assert ini["min_pool_size"] == "0"


def test_listens_on_loopback_at_the_proxy_port(proxy: PgBouncer) -> None:
    ini = settings(proxy.render_ini())
    assert ini["listen_addr"] == "127.0.0.1"
    assert ini["listen_port"] == "20003"
    assert ini["unix_socket_dir"] == ""


def test_forwards_to_the_target(proxy: PgBouncer) -> None:
    ini = settings(proxy.render_ini())
    assert ini["*"] == "host=127.0.0.1 port=20010"


def test_admin_is_the_master_user(proxy: PgBouncer) -> None:
    ini = settings(proxy.render_ini())
    assert ini["admin_users"] == "dbadmin"
    assert ini["stats_users"] == "dbadmin"
    assert ini["auth_file"] == str(proxy.conf_dir / "userlist.txt")


def test_default_pool_is_the_whole_connection_limit(make_cluster: MakeCluster) -> None:
    cluster = make_cluster({"database": {"max_connections": 250}})
    assert cluster.proxy is not None
    ini = settings(cluster.proxy.render_ini())
    assert ini["default_pool_size"] == "250"
    assert ini["query_wait_timeout"] == "120"
    assert ini["client_idle_timeout"] == "1800"


def test_pool_size_rounds_down_and_is_at_least_one(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(
        {"database": {"max_connections": 15}, "proxy": {"max_connections_percent": 5}}
    )
    assert cluster.proxy is not None
    assert settings(cluster.proxy.render_ini())["default_pool_size"] == "1"
    cluster = make_cluster(
        {"database": {"max_connections": 99}, "proxy": {"max_connections_percent": 50}},
        state_name="other",
    )
    assert cluster.proxy is not None
    assert settings(cluster.proxy.render_ini())["default_pool_size"] == "49"


def test_no_proxy_when_disabled(make_cluster: MakeCluster) -> None:
    assert make_cluster({"proxy": {"enabled": False}}).proxy is None


def mode(path: Path) -> int:
    """Permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


def test_prepare_writes_the_verifier_never_the_password(cluster: Cluster, proxy: PgBouncer) -> None:
    password = cluster.credentials.db_password
    assert proxy.pool.password == password
    proxy.prepare()
    userlist = proxy.conf_dir / "userlist.txt"
    assert userlist.read_text() == f'"dbadmin" "{VERIFIER}"\n'
    assert mode(userlist) == 0o600
    assert mode(proxy.ini_path) == 0o600
    assert mode(proxy.conf_dir) == 0o700
    assert proxy.ini_path.read_text() == proxy.render_ini()
    for path in (userlist, proxy.ini_path):
        assert password not in path.read_text()


def test_prepare_tightens_existing_files(proxy: PgBouncer) -> None:
    proxy.conf_dir.mkdir(parents=True)
    userlist = proxy.conf_dir / "userlist.txt"
    userlist.write_text("old\n")
    userlist.chmod(0o644)
    proxy.prepare()
    assert mode(userlist) == 0o600
    assert "old" not in userlist.read_text()


@pytest.mark.parametrize("missing", ["target_port", "verifier"])
def test_prepare_needs_target_and_verifier(proxy: PgBouncer, missing: str) -> None:
    setattr(proxy, missing, None)
    with pytest.raises(ValueError, match="target_port and verifier"):
        proxy.prepare()
    assert not (proxy.conf_dir / "userlist.txt").exists()
