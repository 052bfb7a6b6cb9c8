"""Secrets hygiene with real servers: a whole session (up, demo, load, rotation, failover,
status, events, logs, down) leaves no password or token in any output, log or state file
outside the 0600 files made to hold them; the control API wants its token; nothing
listens beyond 127.0.0.1."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.credentials import Credentials
from sandbox.process import descendants
from tests.support import Sandbox, wait_for

pytestmark = pytest.mark.integration

#: File names that exist to hold a secret; each must be 0600 (checked below).
SECRET_FILES = {
    "credentials.json",  # the sandbox's source of truth
    "control.token",  # the control API's bearer token
    "redis.conf",  # requirepass / masterauth
    "sentinel.conf",  # sentinel auth-pass
    "pgpass",  # a follower's replication password (libpq passfile)
}


def _files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root``, data directories (pgdata, base backups) aside:
    they hold database pages, not files rdsbox writes."""
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(("pgdata", "base-backup"))]
        for name in names:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                yield path


def _leaks(text: str, secrets: set[str]) -> list[str]:
    return sorted(f"...{s[:4]}" for s in secrets if s in text)


def _cmdline_leaks(box: Sandbox, secrets: set[str]) -> list[str]:
    """Processes of the sandbox whose command line (readable by every local user) holds
    a secret."""
    found = []
    for record in (box.state_dir / "run").glob("*.pid"):
        pid = int(json.loads(record.read_text())["pid"])
        for each in (pid, *descendants(pid)):
            try:
                argv = Path(f"/proc/{each}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if _leaks(argv, secrets):
                found.append(f"{record.stem}: {argv.split(chr(0))[0]}")
    return found


def test_a_whole_session_leaks_no_secret(make_sandbox: Callable[..., Sandbox]) -> None:
    # Multi-AZ (for the failover) with the fewest other servers: every kind still runs.
    box = make_sandbox(
        {
            "database": {"read_replicas": 1, "max_connections": 50},
            "cache": {"num_cache_clusters": 2},
        }
    )
    outputs: list[str] = []

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = box.rdsbox(*args)
        assert result.returncode in (0, 1), (args, result.stdout, result.stderr)
        outputs.append(f"$ rdsbox {' '.join(args)}\n{result.stdout}{result.stderr}")
        return result

    run("up", "--json")
    before = Credentials.load_or_create(box.state_dir / "credentials.json")
    run("demo")
    run("load", "--duration", "2", "--rate", "50", "--json")
    run("fault", "rotate-secret")
    run("fault", "db-failover")
    wait_for(lambda: box.status().get("healthy"), timeout=60)
    for args in (("status",), ("status", "--json"), ("events",), ("events", "--json")):
        run(*args)
    # Every log file is scanned below; `rdsbox logs` prints them, so ask for a few.
    logs = sorted(p.stem for p in (box.state_dir / "logs").glob("*.log"))
    for name in [n for n in logs if n.endswith(("supervisor", "proxy", "-db"))]:
        run("logs", name, "--lines", "100000")
    after = Credentials.load_or_create(box.state_dir / "credentials.json")
    assert after.db_password != before.db_password, "the rotation kept the password"
    secrets = set(before.secret_values()) | set(after.secret_values())
    assert _cmdline_leaks(box, secrets) == []
    run("down")

    for output in outputs:
        assert not _leaks(output, secrets), output[:300]
    holders = []
    for path in _files(box.state_dir):
        text = path.read_bytes().decode("utf-8", errors="replace")
        if _leaks(text, secrets):
            holders.append(path.name)
            assert path.name in SECRET_FILES, f"{path} holds a secret"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is not 0600"
    assert {"credentials.json", "redis.conf", "sentinel.conf", "pgpass"} <= set(holders)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _bound_sockets() -> dict[str, tuple[str, str]]:
    """inode -> (table, local address) of every listening TCP and bound UDP socket."""
    found = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if table.startswith("tcp") and state != "0A":  # 0A: LISTEN
                continue
            found[inode] = (table, local)
    return found


def _address(table: str, local: str) -> str:
    hex_ip, hex_port = local.split(":")
    if table.endswith("6"):
        return f"[{hex_ip}]:{int(hex_port, 16)}"
    octets = [str(int(hex_ip[i : i + 2], 16)) for i in range(6, -1, -2)]
    return f"{'.'.join(octets)}:{int(hex_port, 16)}"


def test_every_listening_socket_is_on_loopback(sandbox: Sandbox) -> None:
    pids = set()
    for record in (sandbox.state_dir / "run").glob("*.pid"):
        pid = int(json.loads(record.read_text())["pid"])
        pids |= {pid, *descendants(pid)}
    sockets = _bound_sockets()
    bound = [
        _address(*sockets[inode])
        for pid in pids
        for inode in _socket_inodes(pid)
        if inode in sockets
    ]
    assert len(bound) >= 15, bound  # postgres x3, proxy, redis x3, sentinel x3, router, ...
    assert [a for a in bound if not a.startswith("127.0.0.1:")] == []


def _call(port: int, method: str, path: str, authorization: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = json.dumps({"fault": "kill", "target": "app-db-proxy"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body if method == "POST" else None,
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        error = json.loads(refused.read())["error"]
        assert "token" in error or refused.code not in (401, 403), error
        return refused.code


def test_the_control_api_refuses_requests_without_the_token(sandbox: Sandbox) -> None:
    port = json.loads((sandbox.state_dir / "control.json").read_text())["port"]
    real = (sandbox.state_dir / "control.token").read_text().strip()
    for method, path in [
        ("GET", "/v1/status"),
        ("GET", "/v1/env"),
        ("POST", "/v1/fault"),
        ("POST", "/v1/shutdown"),
    ]:
        for authorization in [
            None,
            "",
            "Bearer",
            "Bearer ",
            "Bearer wrong",
            f"Basic {real}",
            f"Bearer {real[:-1]}",
            f"Bearer {real}x",
            real,
        ]:
            code = _call(port, method, path, authorization)
            assert code in (401, 403), (method, path, authorization)
    # Nothing happened: the supervisor still answers with the token, all healthy.
    assert _call(port, "GET", "/v1/status", f"Bearer {real}") == 200
    assert sandbox.status()["healthy"]


def test_secret_files_are_private_to_their_user(sandbox: Sandbox) -> None:
    root = sandbox.state_dir
    me = os.geteuid()
    mode = stat.S_IMODE(root.stat().st_mode)
    # 0700; when root, 0710 with the database user's group: PostgreSQL (run as that user)
    # must traverse it to reach its data directory. Never anything for other users.
    assert root.stat().st_uid == me
    assert mode in (0o700, 0o710), oct(mode)
    for name in ("credentials.json", "control.token"):
        info = (root / name).stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o600, me), name
    creds = Credentials.load_or_create(root / "credentials.json")
    secrets = set(creds.secret_values())
    for path in _files(root):
        info = path.stat()
        assert not info.st_mode & stat.S_IWOTH, f"{path} is writable by every user"
        if _leaks(path.read_bytes().decode("utf-8", errors="replace"), secrets):
            assert stat.S_IMODE(info.st_mode) == 0o600, f"{path} holds a secret, is not 0600"
    for directory, _subdirs, _names in os.walk(root):
        info = Path(directory).stat()
        assert not info.st_mode & (stat.S_IWOTH | stat.S_IROTH), f"{directory} is open to all"
