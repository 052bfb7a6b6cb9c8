"""Helpers for tests that drive real sandboxes through the `rdsbox` command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import redis
import yaml
from redis.backoff import NoBackoff
from redis.retry import Retry

RDSBOX = str(Path(sys.executable).parent / "rdsbox")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.05) -> T:
    """Poll until ``predicate`` returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # keep polling through transient errors
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid: int) -> bool:
    """Whether a process exists (zombies count as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@dataclass
class Sandbox:
    """One sandbox in its own state dir and port range, driven through the CLI."""

    state_dir: Path
    port_base: int
    config: dict[str, Any] = field(default_factory=dict)
    env_extra: dict[str, str] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.state_dir.parent / f"{self.state_dir.name}.yaml"

    def rdsbox(
        self, *args: str, timeout: float = 120, check: bool = False, config: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run `rdsbox --state-dir ... --port-base ... ARGS`."""
        self.config_path.write_text(yaml.safe_dump(self.config))
        argv = [RDSBOX, "--state-dir", str(self.state_dir), "--port-base", str(self.port_base)]
        if config:
            argv += ["--config", str(self.config_path)]
        result = subprocess.run(
            [*argv, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env_extra},
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"rdsbox {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n"
                f"{result.stderr}"
            )
        return result

    def up(self) -> dict[str, Any]:
        return dict(json.loads(self.rdsbox("up", "--json", check=True).stdout))

    def down(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.rdsbox("down", *extra, check=True)

    def status(self) -> dict[str, Any]:
        return dict(json.loads(self.rdsbox("status", "--json").stdout))

    def env(self) -> dict[str, str]:
        return dict(json.loads(self.rdsbox("env", "--json", check=True).stdout))

    def credentials(self) -> dict[str, str]:
        return dict(json.loads((self.state_dir / "credentials.json").read_text()))

    def component(self, status: dict[str, Any], kind: str, role: str) -> list[dict[str, Any]]:
        return [c for c in status["components"] if c["kind"] == kind and c["role"] == role]

    def db(self, port: int, password: str | None = None) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=port,
            user="dbadmin",
            dbname="app_database",
            password=password or self.credentials()["db_password"],
            autocommit=True,
            connect_timeout=3,
            prepare_threshold=None,
        )

    def cache(self, port: int, password: str | None = None, **options: Any) -> redis.Redis:
        # No retries: an auth failure must surface at once, not after back-off.
        return redis.Redis(
            host="127.0.0.1",
            port=port,
            socket_timeout=3,
            retry=Retry(NoBackoff(), 0),
            password=password or self.credentials()["redis_auth_token"],
            **options,
        )

    def all_ports(self) -> range:
        return range(self.port_base, self.port_base + 50)

    def processes(self) -> Iterator[int]:
        """Pids named by the state dir's pid files that are still alive."""
        run = self.state_dir / "run"
        for path in run.glob("*.pid") if run.is_dir() else []:
            pid = int(json.loads(path.read_text())["pid"])
            if pid_alive(pid):
                yield pid


def run_example(sandbox: Sandbox, argv: list[str], cwd: Path) -> dict[str, Any]:
    """Run an example with `rdsbox env` as its only configuration (plus PATH and HOME);
    check its result against the sandbox: the cache entry it left has a TTL, and the
    database holds the updated name."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    env.update(sandbox.env())
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), done.stdout
    result = dict(json.loads(last.removeprefix("RESULT ")))
    assert result["reads"] == ["miss", "hit", "miss", "hit"]
    assert "cache miss -> SELECT through the proxy" in done.stdout

    cache = sandbox.cache(int(env["REDIS_PORT"]))
    key = f"user:{result['user']}"
    assert 0 < cache.ttl(key) <= 600
    assert json.loads(cache.get(key) or b"{}")["name"] == result["name"]
    with sandbox.db(int(env["DB_WRITER_PORT"])) as db:
        row = db.execute("SELECT name FROM example_users WHERE id = %s", (result["user"],))
        assert row.fetchone() == (result["name"],)
    return result
