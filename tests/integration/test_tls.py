"""TLS like the reference: with ``proxy.require_tls`` and ``cache.transit_encryption_enabled``
clients that insist on verified TLS connect with nothing but `rdsbox env`, plain clients
are refused, and failover still works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sandbox.client_env import ENV_NAMES, TLS_ENV_NAMES
from tests.support import EXAMPLES, Sandbox, wait_for

pytestmark = pytest.mark.integration

TLS_CONFIG = {
    "database": {"read_replicas": 0},
    "proxy": {"require_tls": True},
    "cache": {"num_cache_clusters": 2, "transit_encryption_enabled": True},
}


@pytest.fixture(scope="module")
def tls_box(make_sandbox: Callable[..., Sandbox]) -> Iterator[Sandbox]:
    """A sandbox with TLS on both sides (smaller than the default: no read replica, two
    cache nodes; still Multi-AZ and with Sentinels)."""
    box = make_sandbox(TLS_CONFIG)
    box.up()
    yield box
    box.down("--purge")


@pytest.fixture(scope="module")
def env(tls_box: Sandbox) -> dict[str, str]:
    return tls_box.env()


def _secret(env: dict[str, str]) -> dict[str, Any]:
    import boto3

    client = boto3.client(
        "secretsmanager",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    return dict(json.loads(client.get_secret_value(SecretId=env["DB_SECRET_ARN"])["SecretString"]))


def _db(env: dict[str, str], prefix: str, **tls: str) -> psycopg.Connection:
    secret = _secret(env)
    return psycopg.connect(
        host=env[f"{prefix}_ENDPOINT"],
        port=int(env[f"{prefix}_PORT"]),
        user=secret["username"],
        password=secret["password"],
        dbname=env["DB_NAME"],
        autocommit=True,
        connect_timeout=3,
        prepare_threshold=None,
        **tls,
    )


def _verified_db(env: dict[str, str], prefix: str) -> psycopg.Connection:
    # Only what `rdsbox env` printed: sslmode and the CA to verify the server with.
    return _db(env, prefix, sslmode=env["PGSSLMODE"], sslrootcert=env["PGSSLROOTCERT"])


def _cache(env: dict[str, str], port: int | str, **tls: Any) -> redis.Redis:
    return redis.Redis(
        host=env["REDIS_HOST"],
        port=int(port),
        password=env["REDIS_AUTH_TOKEN"],
        socket_timeout=3,
        socket_connect_timeout=3,
        retry=Retry(NoBackoff(), 0),
        **tls,
    )


def _verified_cache(env: dict[str, str], port: int | str | None = None) -> redis.Redis:
    assert env["REDIS_TLS"] == "1"
    return _cache(
        env,
        port or env["REDIS_PORT"],
        ssl=True,
        ssl_cert_reqs="required",
        ssl_ca_certs=env["REDIS_CA_CERT"],
    )


def test_env_names_the_ca_and_the_tls_modes(tls_box: Sandbox, env: dict[str, str]) -> None:
    assert list(env) == [*ENV_NAMES, *TLS_ENV_NAMES]
    assert env["PGSSLMODE"] == "verify-full" and env["REDIS_TLS"] == "1"
    ca = tls_box.state_dir / "tls" / "ca.crt"
    assert env["PGSSLROOTCERT"] == env["REDIS_CA_CERT"] == env["NODE_EXTRA_CA_CERTS"] == str(ca)
    assert (tls_box.state_dir / "tls" / "server.key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("prefix", ["DB_PROXY", "DB_WRITER", "DB_READER"])
def test_verified_postgres_clients_connect(env: dict[str, str], prefix: str) -> None:
    with _verified_db(env, prefix) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 1").fetchone() == (1,)


_STREAMS = (
    "SELECT r.application_name, r.sync_state, s.ssl "
    "FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)"
)


def test_the_database_nodes_and_replication_speak_tls(env: dict[str, str]) -> None:
    with _verified_db(env, "DB_WRITER") as conn:
        # Server side: this session, and the Multi-AZ standby's stream.
        mine = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert mine.fetchone() == (True,)
        assert conn.execute(_STREAMS).fetchall() == [("app-primary-db-b", "sync", True)]


def test_verified_redis_clients_connect(env: dict[str, str]) -> None:
    primary = _verified_cache(env)
    assert primary.set("tls-check", "yes")
    reader = _verified_cache(env, env["REDIS_READER_PORT"])
    # Replication runs over TLS too (tls-replication yes): the replica gets the write.
    wait_for(lambda: reader.get("tls-check") == b"yes")
    assert reader.info("replication")["role"] == "slave"


def test_plain_clients_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(psycopg.OperationalError, match="SSL required"):
        _db(env, "DB_PROXY", sslmode="disable")
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        _db(env, "DB_WRITER", sslmode="disable")
    for port in (env["REDIS_PORT"], env["REDIS_READER_PORT"]):
        with pytest.raises(redis.ConnectionError):
            _cache(env, port).ping()


def test_a_client_that_does_not_trust_the_ca_is_refused(env: dict[str, str]) -> None:
    # verify-full against the system's CAs: the sandbox CA is not among them.
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        _db(env, "DB_PROXY", sslmode="verify-full", sslrootcert="system")


NODE_CHECK = """
const { SecretsManagerClient, GetSecretValueCommand } = require("@aws-sdk/client-secrets-manager");
const { Client } = require("pg");
const Redis = require("ioredis");
const env = process.env;
(async () => {
  const sm = new SecretsManagerClient({});
  const answer = await sm.send(new GetSecretValueCommand({ SecretId: env.DB_SECRET_ARN }));
  const secret = JSON.parse(answer.SecretString);
  const out = {};
  for (const [name, port] of [["proxy", env.DB_PROXY_PORT], ["writer", env.DB_WRITER_PORT]]) {
    const db = new Client({
      host: env.DB_PROXY_ENDPOINT, port: Number(port), database: env.DB_NAME,
      user: secret.username, password: secret.password,
      ssl: { rejectUnauthorized: true },
    });
    await db.connect();
    const { rows } = await db.query("SELECT 1 AS one");
    out[name] = { one: rows[0].one, encrypted: db.connection.stream.encrypted === true };
    await db.end();
  }
  const cache = new Redis({
    host: env.REDIS_HOST, port: Number(env.REDIS_PORT), password: env.REDIS_AUTH_TOKEN,
    tls: {}, maxRetriesPerRequest: 0, retryStrategy: () => null,
  });
  out.redis = await cache.ping();
  out.redisEncrypted = cache.stream.encrypted === true;
  cache.disconnect();
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(String(error)); process.exit(1); });
"""


def _node(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "Node.js is missing: run `bash scripts/setup.sh`"
    modules = EXAMPLES / "node" / "node_modules"
    assert (modules / "pg").is_dir(), "examples/node/node_modules missing: scripts/setup.sh"
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [node, "-e", NODE_CHECK],
        cwd=EXAMPLES / "node",
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_node_clients_verify_the_sandbox_ca(env: dict[str, str]) -> None:
    done = _node(env)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "proxy": {"one": 1, "encrypted": True},
        "writer": {"one": 1, "encrypted": True},
        "redis": "PONG",
        "redisEncrypted": True,
    }


def test_cli_clients_speak_tls(tls_box: Sandbox, env: dict[str, str]) -> None:
    pong = tls_box.rdsbox("redis-cli", "PING", check=True)
    assert pong.stdout.strip() == "PONG"
    query = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    answer = tls_box.rdsbox("psql", "--via", "writer", "-tAc", query, check=True)
    assert answer.stdout.strip() == "t"
    # The demo's code, in-process (`rdsbox demo` runs the same with the same env).
    from sandbox.cli.demo import run_demo

    steps = run_demo(env)
    assert steps[-1]["detail"] == "hit"


def test_secret_rotation_with_tls(tls_box: Sandbox, env: dict[str, str]) -> None:
    # PgBouncer recycles its TLS server connections at every RELOAD; the rotation's proxy
    # step must still get a login through while the pool is paused.
    idle = _verified_db(env, "DB_PROXY")
    before = _secret(env)["password"]
    tls_box.rdsbox("fault", "rotate-secret", check=True)
    assert _secret(env)["password"] != before
    for prefix in ("DB_PROXY", "DB_WRITER"):
        with _verified_db(env, prefix) as conn:  # with the new secret
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert idle.execute("SELECT 1").fetchone() == (1,)
    idle.close()


def _writer_port(env: dict[str, str]) -> int:
    with _verified_db(env, "DB_WRITER") as conn:
        row = conn.execute("SELECT inet_server_port()").fetchone()
    assert row is not None
    return int(row[0])


def _cache_node(env: dict[str, str]) -> str:
    return str(_verified_cache(env).info("server")["run_id"])


def test_cache_and_db_failover_with_tls(tls_box: Sandbox, env: dict[str, str]) -> None:
    # Watched through verified clients only: every `rdsbox status` is a process start.
    old_cache, old_writer = _cache_node(env), _writer_port(env)
    tls_box.rdsbox("fault", "cache-failover", check=True)
    tls_box.rdsbox("fault", "db-failover", check=True)
    # Sentinels (over TLS) promote the replica; the cache endpoint follows.
    wait_for(lambda: _cache_node(env) != old_cache, timeout=30, interval=0.1)
    wait_for(lambda: _verified_cache(env).set("after-failover", "yes"), timeout=15)
    # The standby takes over; the proxy (TLS to clients and to the database) follows it.
    wait_for(lambda: _writer_port(env) != old_writer, timeout=30, interval=0.1)

    def writes_through_proxy() -> bool:
        with _verified_db(env, "DB_PROXY") as conn:
            return conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)

    wait_for(writes_through_proxy, timeout=30, interval=0.1)

    # The old primary is rewound (pg_rewind over TLS) and streams again as the standby.
    def rejoined() -> bool:
        with _verified_db(env, "DB_WRITER") as conn:
            return conn.execute(_STREAMS).fetchall() == [("app-primary-db-a", "sync", True)]

    wait_for(rejoined, timeout=60, interval=0.2)
