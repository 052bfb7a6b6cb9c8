"""The default topology, running for real: roles, replication, auth, secret, endpoints."""

from __future__ import annotations

import json
import shlex
import subprocess
import uuid

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sandbox.services.moto import secrets_client
from tests.support import Sandbox, wait_for

pytestmark = pytest.mark.integration


def test_status_json_has_the_contract_shape(sandbox: Sandbox) -> None:
    status = sandbox.status()
    assert status["healthy"] is True
    kinds = {c["kind"] for c in status["components"]}
    assert kinds == {"postgres", "pgbouncer", "redis", "sentinel", "moto"}
    for component in status["components"]:
        assert set(component) >= {"name", "kind", "role", "host", "port", "pid", "healthy"}
        assert component["host"] == "127.0.0.1"
        assert component["healthy"] is True
        assert component["port"] < 32768
    roles = sorted(c["role"] for c in status["components"] if c["kind"] == "postgres")
    assert roles == ["primary", "replica", "replica", "standby"]
    assert sorted(c["role"] for c in status["components"] if c["kind"] == "redis") == [
        "primary",
        "replica",
        "replica",
    ]
    assert [c["role"] for c in status["components"] if c["kind"] == "sentinel"] == ["sentinel"] * 3
    assert sandbox.component(status, "pgbouncer", "proxy")
    assert sandbox.component(status, "moto", "secrets")
    endpoints = status["endpoints"]
    for name in ("writer", "reader", "proxy", "cache_primary", "cache_reader"):
        assert set(endpoints[name]) == {"host", "port"}
    assert endpoints["secrets_manager"]["url"].startswith("http://127.0.0.1:")


def test_a_write_through_the_proxy_reaches_the_reader_and_every_replica(
    sandbox: Sandbox,
) -> None:
    status = sandbox.status()
    marker = uuid.uuid4().hex
    with sandbox.db(status["endpoints"]["proxy"]["port"]) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS probe (marker text)")
        conn.execute("INSERT INTO probe VALUES (%s)", (marker,))

    def visible(port: int) -> bool:
        with sandbox.db(port) as conn:
            return bool(conn.execute("SELECT 1 FROM probe WHERE marker = %s", (marker,)).fetchone())

    wait_for(lambda: visible(status["endpoints"]["reader"]["port"]))
    for replica in sandbox.component(status, "postgres", "replica"):
        wait_for(lambda r=replica: visible(r["port"]))


def test_the_standby_is_synchronous_and_never_serves_readers(sandbox: Sandbox) -> None:
    status = sandbox.status()
    (standby,) = sandbox.component(status, "postgres", "standby")
    with sandbox.db(status["endpoints"]["writer"]["port"]) as conn:
        rows = dict(
            conn.execute("SELECT application_name, sync_state FROM pg_stat_replication").fetchall()
        )
    assert rows[standby["name"]] == "sync"
    assert sorted(v for k, v in rows.items() if k != standby["name"]) == ["async", "async"]
    # Like an RDS Multi-AZ standby it takes no client connections at all...
    with pytest.raises(psycopg.OperationalError, match=r"(?i)hot standby mode is disabled"):
        sandbox.db(standby["port"]).close()
    # ...and the reader endpoint rotates over the replicas only.
    replica_ports = {r["port"] for r in sandbox.component(status, "postgres", "replica")}
    served = set()
    for _ in range(8):
        with sandbox.db(status["endpoints"]["reader"]["port"]) as conn:
            row = conn.execute("SELECT inet_server_port(), pg_is_in_recovery()").fetchone()
            assert row is not None
            served.add(row[0])
            assert row[1] is True
    assert served == replica_ports


def test_the_writer_endpoint_reaches_the_primary(sandbox: Sandbox) -> None:
    status = sandbox.status()
    (primary,) = sandbox.component(status, "postgres", "primary")
    with sandbox.db(status["endpoints"]["writer"]["port"]) as conn:
        row = conn.execute("SELECT inet_server_port(), pg_is_in_recovery()").fetchone()
    assert row == (primary["port"], False)


@pytest.mark.parametrize("endpoint", ["writer", "proxy", "reader"])
def test_a_wrong_database_password_is_refused(sandbox: Sandbox, endpoint: str) -> None:
    port = sandbox.status()["endpoints"][endpoint]["port"]
    with pytest.raises(
        psycopg.OperationalError, match=r"(?i)(password|SASL) authentication failed"
    ):
        sandbox.db(port, password="not-the-password").close()


def test_redis_refuses_a_wrong_token_and_no_token(sandbox: Sandbox) -> None:
    port = sandbox.status()["endpoints"]["cache_primary"]["port"]
    with pytest.raises(redis.AuthenticationError):
        sandbox.cache(port, password="wrong").ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port, socket_timeout=3, retry=Retry(NoBackoff(), 0)).get(
            "x"
        )


def test_redis_replicas_replicate_and_sentinels_agree(sandbox: Sandbox) -> None:
    status = sandbox.status()
    (primary,) = sandbox.component(status, "redis", "primary")
    key, value = f"probe:{uuid.uuid4().hex}", uuid.uuid4().hex
    sandbox.cache(status["endpoints"]["cache_primary"]["port"]).set(key, value)
    for replica in sandbox.component(status, "redis", "replica"):
        wait_for(lambda r=replica: sandbox.cache(r["port"]).get(key) == value.encode())
        assert sandbox.cache(replica["port"]).info("replication")["role"] == "slave"
    wait_for(lambda: sandbox.cache(status["endpoints"]["cache_reader"]["port"]).get(key))
    sentinels = sandbox.component(status, "sentinel", "sentinel")
    group = "app-redis-cluster"

    def agreed() -> bool:
        answers = set()
        for s in sentinels:
            client = redis.Redis(host="127.0.0.1", port=s["port"], decode_responses=True)
            answers.add(tuple(client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", group)))
        return answers == {("127.0.0.1", str(primary["port"]))}

    wait_for(agreed)


def test_the_secret_has_the_rds_managed_shape(sandbox: Sandbox) -> None:
    env = sandbox.env()
    client = secrets_client(env)
    described = client.describe_secret(SecretId=env["DB_SECRET_ARN"])
    assert described["Name"] == "app-db-credentials"
    secret = json.loads(client.get_secret_value(SecretId="app-db-credentials")["SecretString"])
    assert set(secret) == {
        "username",
        "password",
        "engine",
        "host",
        "port",
        "dbname",
        "dbInstanceIdentifier",
    }
    assert secret["username"] == "dbadmin"
    assert secret["engine"] == "postgres"
    assert secret["dbname"] == env["DB_NAME"] == "app_database"
    assert secret["dbInstanceIdentifier"] == "app-primary-db"
    assert (secret["host"], secret["port"]) == ("127.0.0.1", int(env["DB_WRITER_PORT"]))
    assert len(secret["password"]) >= 20


def test_a_client_configured_only_by_rdsbox_env_works(sandbox: Sandbox) -> None:
    """A shell sources `rdsbox env`; a fresh Python reads the secret with boto3 and talks to
    the proxy and Redis with nothing else."""
    exports = sandbox.rdsbox("env", check=True).stdout
    names = [line.split("=", 1)[0].removeprefix("export ") for line in exports.splitlines()]
    assert names == [
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "DB_SECRET_ARN",
        "DB_NAME",
        "DB_PROXY_ENDPOINT",
        "DB_PROXY_PORT",
        "DB_WRITER_ENDPOINT",
        "DB_WRITER_PORT",
        "DB_READER_ENDPOINT",
        "DB_READER_PORT",
        "REDIS_HOST",
        "REDIS_PORT",
        "REDIS_READER_HOST",
        "REDIS_READER_PORT",
        "REDIS_AUTH_TOKEN",
    ]
    client_code = """
import json, os, boto3, psycopg, redis
sm = boto3.client("secretsmanager")
s = json.loads(sm.get_secret_value(SecretId=os.environ["DB_SECRET_ARN"])["SecretString"])
with psycopg.connect(host=os.environ["DB_PROXY_ENDPOINT"], port=os.environ["DB_PROXY_PORT"],
                     user=s["username"], password=s["password"], dbname=os.environ["DB_NAME"]) as c:
    print(c.execute("select 40 + 2").fetchone()[0])
r = redis.Redis(host=os.environ["REDIS_HOST"], port=int(os.environ["REDIS_PORT"]),
                password=os.environ["REDIS_AUTH_TOKEN"])
print(r.ping())
"""
    import sys

    script = f"{exports}\nexec {shlex.quote(sys.executable)} -c {shlex.quote(client_code)}"
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["42", "True"]


def test_psql_and_redis_cli_commands_connect(sandbox: Sandbox) -> None:
    for via in ("proxy", "writer", "reader"):
        out = sandbox.rdsbox("psql", "--via", via, "-At", "-c", "select 6 * 7", check=True)
        assert out.stdout.strip() == "42"
    assert sandbox.rdsbox("redis-cli", "ping", check=True).stdout.strip() == "PONG"


def test_logs_of_a_component_and_an_unknown_one(sandbox: Sandbox) -> None:
    out = sandbox.rdsbox("logs", "app-primary-db-a", "-n", "5", check=True)
    assert out.stdout.strip()
    bad = sandbox.rdsbox("logs", "no-such-thing")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "no-such-thing" in bad.stderr and "app-primary-db-a" in bad.stderr


def test_up_on_a_running_sandbox_says_so(sandbox: Sandbox) -> None:
    result = sandbox.rdsbox("up", check=True)
    assert "already running" in result.stdout
