"""pytest plugin: an rdsbox sandbox for a test session, and per-test clients that clean up.

Three flavours, like pytest-postgresql:

* ``rdsbox_sandbox`` (session): starts a sandbox in a temporary state dir on free ports
  (each pytest-xdist worker its own), stopped and deleted at the end; or, with
  ``--rdsbox-state-dir DIR`` (ini ``rdsbox_state_dir``), attaches to the sandbox already
  running there and never stops it.
* ``rdsbox_env``, ``rdsbox_db``, ``rdsbox_cache``, ``rdsbox_faults`` (per test): the
  ``rdsbox env`` values, a psycopg connection through the proxy inside a transaction that
  is rolled back, a Redis client whose new keys are deleted, and the fault API with every
  fault cleared afterwards.

Loaded in every pytest run of an environment where rdsbox is installed (``pytest11``
entry point), so it does nothing unless one of its fixtures is requested: importing it
imports nothing of rdsbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg
    import redis

    from sandbox.testing.session import SessionSandbox

DEFAULT_FIRST_PORT = 25000
_OPTIONS = (
    ("state_dir", "Attach to the sandbox running in this state dir (never stopped)."),
    ("config", "Config file (or Terraform directory) for the sandbox the session starts."),
    ("profile", "Timing profile of the sandbox the session starts: fast or aws."),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--rdsbox-state-dir``, ``--rdsbox-config``, ``--rdsbox-profile`` and their ini
    equivalents, plus ini ``rdsbox_port_base`` (first port tried; default 25000)."""
    group = parser.getgroup("rdsbox", "rdsbox sandbox (RDS + RDS Proxy + ElastiCache)")
    for name, help_text in _OPTIONS:
        flag = f"--rdsbox-{name.replace('_', '-')}"
        group.addoption(flag, dest=f"rdsbox_{name}", help=help_text)
        parser.addini(f"rdsbox_{name}", help_text)
    parser.addini(
        "rdsbox_port_base", f"First port tried for started sandboxes ({DEFAULT_FIRST_PORT})."
    )


def _setting(config: pytest.Config, name: str) -> str | None:
    """Command line beats ini; empty means unset."""
    value = config.getoption(f"rdsbox_{name}", default=None) or config.getini(f"rdsbox_{name}")
    return str(value) if value else None


def _path(config: pytest.Config, value: str, from_ini: bool) -> Path:
    """Ini paths are relative to the ini file's folder, command-line ones to the cwd."""
    path = Path(value).expanduser()
    if from_ini and not path.is_absolute():
        return config.rootpath / path
    return path


@pytest.fixture(scope="session")
def rdsbox_sandbox(request: pytest.FixtureRequest) -> Iterator[SessionSandbox]:
    """The session's sandbox: started here, or attached to with ``--rdsbox-state-dir``."""
    from sandbox.errors import RdsboxError
    from sandbox.testing.session import SessionSandbox

    config = request.config
    state_dir = _setting(config, "state_dir")
    try:
        if state_dir is not None:
            from_ini = not config.getoption("rdsbox_state_dir", default=None)
            box = SessionSandbox.attach(_path(config, state_dir, from_ini))
        else:
            source = _setting(config, "config")
            from_ini = not config.getoption("rdsbox_config", default=None)
            box = SessionSandbox.start(
                int(_setting(config, "port_base") or DEFAULT_FIRST_PORT),
                _path(config, source, from_ini) if source else None,
                _setting(config, "profile"),
            )
    except (RdsboxError, RuntimeError) as exc:
        pytest.fail(f"rdsbox: {exc}", pytrace=False)
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def rdsbox_env(rdsbox_sandbox: SessionSandbox) -> dict[str, str]:
    """The ``rdsbox env --json`` values (AWS_ENDPOINT_URL, DB_SECRET_ARN, DB_PROXY_PORT...)."""
    return rdsbox_sandbox.env()


@pytest.fixture
def rdsbox_db(
    rdsbox_sandbox: SessionSandbox, rdsbox_env: dict[str, str]
) -> Iterator[psycopg.Connection[Any]]:
    """A psycopg connection through the proxy (the writer when there is no proxy), with
    the credentials from the Secrets Manager secret.

    The test runs inside one transaction that is rolled back afterwards, so its writes
    (DDL included) disappear. ``conn.commit()`` is refused inside it; use nested
    ``with conn.transaction():`` blocks (savepoints). Work done on other connections
    (e.g. by the code under test opening its own) is not rolled back."""
    import psycopg

    from sandbox.client_env import libpq_tls

    secret = rdsbox_sandbox.db_credentials
    prefix = "DB_PROXY" if rdsbox_env.get("DB_PROXY_PORT") else "DB_WRITER"
    conn = psycopg.connect(
        host=rdsbox_env[f"{prefix}_ENDPOINT"],
        port=int(rdsbox_env[f"{prefix}_PORT"]),
        user=secret["username"],
        password=secret["password"],
        dbname=rdsbox_env["DB_NAME"],
        connect_timeout=5,
        prepare_threshold=None,  # PgBouncer in transaction mode: no server-side prepares
        **libpq_tls(rdsbox_env),
    )
    try:
        with conn.transaction(force_rollback=True):
            yield conn
    finally:
        conn.close()


@pytest.fixture
def rdsbox_cache(rdsbox_env: dict[str, str]) -> Iterator[redis.Redis]:
    """A Redis client (``decode_responses=True``) on the cache primary endpoint.

    Keys that did not exist before the test are deleted after it; keys that existed are
    left with whatever value the test gave them."""
    import redis

    from sandbox.client_env import redis_tls

    client = redis.Redis(
        host=rdsbox_env["REDIS_HOST"],
        port=int(rdsbox_env["REDIS_PORT"]),
        password=rdsbox_env["REDIS_AUTH_TOKEN"],
        decode_responses=True,
        socket_timeout=5,
        **redis_tls(rdsbox_env),
    )
    before = set(client.scan_iter(count=1000))
    try:
        yield client
    finally:
        new = [key for key in client.scan_iter(count=1000) if key not in before]
        if new:
            client.delete(*new)
        client.close()


class RdsboxFaults:
    """The fault API of the session's sandbox (like ``rdsbox fault``); each method returns
    the sentence saying what was done."""

    def __init__(self, sandbox: SessionSandbox) -> None:
        self._client = sandbox.client

    def apply(
        self,
        fault: str,
        target: str | None = None,
        seconds: float | None = None,
        **options: float,
    ) -> str:
        """Any fault by name, as `rdsbox fault` names them (see `rdsbox fault --help`)."""
        return self._client.fault(fault, target, seconds, **options)

    def kill(self, component: str) -> str:
        """SIGKILL a component; the control plane recovers it."""
        return self.apply("kill", component)

    def stop(self, component: str) -> str:
        """Stop a component until :meth:`start` (or the end of the test)."""
        return self.apply("stop", component)

    def start(self, component: str) -> str:
        """Release a stopped component."""
        return self.apply("start", component)

    def hang(self, component: str, seconds: float) -> str:
        """SIGSTOP a component for ``seconds``."""
        return self.apply("hang", component, seconds)

    def db_failover(self) -> str:
        """Planned Multi-AZ failover."""
        return self.apply("db-failover")

    def cache_failover(self) -> str:
        """Fail the Redis replication group over."""
        return self.apply("cache-failover")

    def reset(self, endpoint: str) -> str:
        """Drop every connection through an endpoint."""
        return self.apply("reset", endpoint)

    def replica_lag(self, replica: str, seconds: float) -> str:
        """Pause WAL replay on a read replica for ``seconds``."""
        return self.apply("replica-lag", replica, seconds)

    def latency(
        self, endpoint: str, ms: float, jitter: float = 0.0, seconds: float | None = None
    ) -> str:
        """Delay every response through ``endpoint``."""
        return self.apply("latency", endpoint, seconds, ms=ms, jitter=jitter)

    def blackhole(self, endpoint: str, seconds: float | None = None) -> str:
        """Accept connections to ``endpoint`` and never answer."""
        return self.apply("blackhole", endpoint, seconds)

    def rotate_secret(self) -> str:
        """Rotate the database secret (the four Secrets Manager steps)."""
        return self.apply("rotate-secret")

    def clear(self) -> str:
        """Undo every fault now."""
        return self.apply("clear")


@pytest.fixture
def rdsbox_faults(rdsbox_sandbox: SessionSandbox) -> Iterator[RdsboxFaults]:
    """The fault API; every fault still active is undone (``fault clear``) after the test."""
    faults = RdsboxFaults(rdsbox_sandbox)
    try:
        yield faults
    finally:
        faults.clear()
