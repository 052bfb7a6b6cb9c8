"""The supervisor's own faults, with real processes: SIGKILLed, stale pid files after a
reboot, a full disk under the metrics store, ports taken by other programs while running."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from sandbox.client import ControlClient
from sandbox.config.loader import config_from_mapping
from sandbox.jobs import Job
from sandbox.process import process_start_time
from sandbox.statedir import StateDir
from sandbox.supervisor.events import read_events
from sandbox.topology import Topology
from tests.support import Sandbox, listening, pid_alive, wait_for

pytestmark = pytest.mark.integration

# Every kind of server, as few of each as will do: keeps these tests quick.
SMALL = {
    "database": {"multi_az": False, "read_replicas": 1, "max_connections": 50},
    "cache": {"num_cache_clusters": 2},
}


def _server_pids(status: dict[str, Any]) -> list[int]:
    pids = [int(c["pid"]) for c in status["components"] if c["pid"]]
    return [*pids, int(status["endpoint_router"]["pid"])]


def _assert_nothing_left(box: Sandbox, pids: list[int]) -> None:
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=10)
    assert list(box.processes()) == []
    assert not [p for p in box.all_ports() if listening(p)]


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _events(box: Sandbox) -> list[dict[str, str]]:
    # Read in-process: polling through a fresh `rdsbox` per attempt costs seconds.
    return [asdict(e) for e in read_events(StateDir(box.state_dir).events_file)]


def _status(box: Sandbox) -> dict[str, Any]:
    return ControlClient(StateDir(box.state_dir)).status()


@pytest.fixture(scope="module")
def small(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """One small sandbox (not running between tests) for the lifecycle cases."""
    return make_sandbox(SMALL)


def test_up_after_a_sigkilled_supervisor_restarts_cleanly_and_down_cleans_all(
    small: Sandbox,
) -> None:
    box = small
    status = box.up()
    with box.db(status["endpoints"]["proxy"]["port"]) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    supervisor = int(status["supervisor"]["pid"])
    orphans = _server_pids(status)
    os.kill(supervisor, signal.SIGKILL)
    wait_for(lambda: not pid_alive(supervisor))
    assert all(pid_alive(p) for p in orphans), "servers outlive their supervisor"
    assert box.rdsbox("status").returncode == 3

    # `up` stops the orphans (their pid files name them) and starts afresh on the same data.
    again = box.up()
    assert again["healthy"]
    assert not any(pid_alive(p) for p in orphans)
    assert set(_server_pids(again)).isdisjoint(orphans)
    with box.db(again["endpoints"]["writer"]["port"]) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (42,)
    new_pids = [*_server_pids(again), int(again["supervisor"]["pid"])]
    box.down()
    _assert_nothing_left(box, new_pids)


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """Another user's program that got a pid the sandbox once used."""
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def test_pid_files_naming_other_programs_after_a_reboot_are_left_alone(
    small: Sandbox, stranger: subprocess.Popen[bytes]
) -> None:
    box = small
    topology = Topology(config_from_mapping({**SMALL, "port_base": box.port_base}))
    names = [str(c["name"]) for c in topology.planned_components()]
    names += ["supervisor", "endpoints"]
    (box.state_dir / "run").mkdir(parents=True, exist_ok=True)
    # The machine "reboots": pid files of every process survive, every process is gone,
    # and the numbers belong to someone else now. Half the files carry the stranger's very start
    # time (the same tick count since boot), but of an earlier boot; the other half
    # carry this boot and a start time that is not the stranger's.
    start = process_start_time(stranger.pid)
    assert start is not None
    for index, name in enumerate(names):
        earlier_boot = index % 2 == 0
        record = {
            "pid": stranger.pid,
            "start": start if earlier_boot else start - 1,
            "prog": "/usr/lib/postgresql/16/bin/postgres",
            "stop": "SIGINT",
            "boot": "00000000-0000-0000-0000-000000000000" if earlier_boot else "",
        }
        (box.state_dir / "run" / f"{name}.pid").write_text(json.dumps(record))

    assert box.rdsbox("status").returncode == 3
    assert stranger.poll() is None
    down = json.loads(box.rdsbox("down", "--json", check=True).stdout)
    assert down["swept"] == [] and stranger.poll() is None
    status = box.up()
    assert status["healthy"] and stranger.poll() is None
    box.down()
    assert stranger.poll() is None, "rdsbox signalled a process it did not start"


@pytest.fixture(scope="module")
def tiny_disk(state_root: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a disk that really fills up (mounting needs root)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mount = state_root / "tiny-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def box(make_sandbox: Callable[..., Sandbox], tiny_disk: Path) -> Iterator[Sandbox]:
    """A running sandbox whose metrics store lives on the tiny disk."""
    box = make_sandbox(SMALL)
    box.state_dir.mkdir(mode=0o711)
    (box.state_dir / "metrics.db").symlink_to(tiny_disk / "metrics.db")
    box.up()
    yield box
    box.rdsbox("down", "--purge")


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler


def test_a_full_disk_pauses_metrics_while_the_sandbox_serves(box: Sandbox, tiny_disk: Path) -> None:
    wait_for(lambda: (tiny_disk / "metrics.db").stat().st_size > 0)
    filler = _fill(tiny_disk)
    try:
        paused = wait_for(
            lambda: [e for e in _events(box) if "Metrics collection paused" in e["message"]],
            timeout=30,
        )
        assert len(paused) == 1
        status = _status(box)
        assert status["healthy"] and pid_alive(int(status["supervisor"]["pid"]))
        with box.db(status["endpoints"]["proxy"]["port"]) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS during_full_disk (v int)")
            conn.execute("INSERT INTO during_full_disk VALUES (1)")
        cache = box.cache(status["endpoints"]["cache_primary"]["port"])
        assert cache.set("full-disk", "still serving")
        # A load run writes its series to the same store: it carries on without them.
        load = box.rdsbox("load", "--duration", "1", "--rate", "20", "--json", check=True)
        assert json.loads(load.stdout)["ops"] > 0
    finally:
        filler.unlink()
    wait_for(
        lambda: [e for e in _events(box) if "Metrics collection resumed" in e["message"]],
        timeout=30,
    )


def test_a_taken_relay_port_fails_the_fault_with_one_line(box: Sandbox) -> None:
    topology = Topology(config_from_mapping({**SMALL, "port_base": box.port_base}))
    port = topology.relay_port("writer")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        result = box.rdsbox("fault", "latency", "writer", "--ms", "5")
        _one_line_error(result, str(port), "taken")
    assert _status(box)["healthy"]
    assert json.loads(box.rdsbox("fault", "clear", "--json", check=True).stdout)["done"]


@contextlib.contextmanager
def _port_taken_while_down(box: Sandbox, name: str, port: int) -> Iterator[None]:
    """Stop ``name``, take its port with a listening socket, release ``name`` (its restart
    now finds the port busy); the port is freed on exit."""
    box.rdsbox("fault", "stop", name, check=True)
    wait_for(lambda: not listening(port))
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        box.rdsbox("fault", "start", name, check=True)
        yield


def test_a_port_taken_while_a_server_is_down_is_reported_not_crashed_on(box: Sandbox) -> None:
    status = _status(box)
    (replica,) = box.component(status, "redis", "replica")
    name, port = replica["name"], int(replica["port"])
    with _port_taken_while_down(box, name, port):
        problem = wait_for(lambda: _status(box).get("problems", {}).get(name), timeout=20)
        assert str(port) in problem and "taken" in problem
        events = [e for e in _events(box) if e["source"] == name and "could not" in e["message"]]
        assert len(events) == 1, events  # reported once, not once per control-loop cycle
        human = box.rdsbox("status")
        assert human.returncode == 1 and "taken" in human.stdout
        now = _status(box)
        assert pid_alive(int(now["supervisor"]["pid"]))
        others = [c for c in now["components"] if c["name"] != name]
        assert all(c["healthy"] for c in others)
    recovered = wait_for(lambda: (s := _status(box))["healthy"] and s, timeout=30)
    assert name not in recovered["problems"]
    restarted = [e for e in _events(box) if e["source"] == name and "restarted" in e["message"]]
    assert restarted


@pytest.fixture(scope="module")
def pg_box(make_sandbox: Callable[..., Sandbox]) -> Iterator[Sandbox]:
    """Multi-AZ with one replica (every PostgreSQL role), the fewest other servers."""
    box = make_sandbox(
        {
            "database": {"multi_az": True, "read_replicas": 1, "max_connections": 50},
            "cache": {"num_cache_clusters": 1, "automatic_failover_enabled": False},
        }
    )
    box.up()
    yield box
    box.down("--purge")


def _postgres(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in status["components"] if c["kind"] == "postgres"}


def _healthy(box: Sandbox) -> dict[str, Any]:
    status = _status(box)
    unhealthy = [c["name"] for c in status["components"] if not c["healthy"]]
    assert status["healthy"], f"unhealthy: {unhealthy}; problems: {status.get('problems')}"
    return status


def test_every_postgres_node_killed_at_once_is_brought_back(pg_box: Sandbox) -> None:
    box = pg_box
    before = _postgres(_healthy(box))
    for node in before.values():
        os.kill(int(node["pid"]), signal.SIGKILL)

    def replaced() -> dict[str, Any]:
        # Status answers from the last snapshot: wait for one taken after the kill.
        status = _healthy(box)
        stale = [n for n, c in _postgres(status).items() if c["pid"] == before[n]["pid"]]
        assert not stale, f"not restarted yet: {stale}"
        return status

    # Primary restarted in place, standby rejoined, replica restarted: all by the loop.
    after = _postgres(wait_for(replaced, timeout=60, interval=0.2))
    assert all(listening(int(node["port"])) for node in after.values()), after
    with box.db(_status(box)["endpoints"]["writer"]["port"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_lock_file_naming_a_reused_pid_does_not_block_the_restart(pg_box: Sandbox) -> None:
    # A SIGKILLed postmaster leaves postmaster.pid behind; once its pid belongs to another
    # process of the database user (pids wrap quickly at pid_max 32768), PostgreSQL
    # refuses to start ("lock file already exists") for as long as that process lives.
    box = pg_box
    status = _healthy(box)
    (replica,) = box.component(status, "postgres", "replica")
    (primary,) = box.component(status, "postgres", "primary")
    name = replica["name"]
    box.rdsbox("fault", "stop", name, check=True)
    lock = box.state_dir / "data" / name / "pgdata" / "postmaster.pid"
    wait_for(lambda: not lock.exists())
    # The primary's postmaster: alive, same user, working in another data directory.
    lock.write_text(f"{primary['pid']}\n{lock.parent}\n")
    shutil.chown(lock, *_owner(lock.parent))
    box.rdsbox("fault", "start", name, check=True)

    def back() -> dict[str, Any]:
        status = _healthy(box)
        assert _postgres(status)[name]["pid"] not in (None, replica["pid"]), status
        return status

    restarted = wait_for(back, timeout=30, interval=0.2)
    assert pid_alive(int(primary["pid"])), "the process named in the stale lock file lives on"
    assert name not in restarted["problems"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to another user")
def test_a_background_job_leaves_postgresql_able_to_reach_its_files(pg_box: Sandbox) -> None:
    # Every background job (the dashboard's load, `demo --dashboard`) prepares the state
    # dir; that once took the database user's traverse grant away from the running
    # sandbox, and each PostgreSQL node PANICked at its next checkpoint ("could not open
    # file .../global/pg_control: Permission denied"), never to be restarted.
    box = pg_box
    status = _healthy(box)
    job = Job(StateDir(box.state_dir), "probe")
    try:
        job.start(["status"])
        wait_for(lambda: not job.running())
    finally:
        job.stop()
    with box.db(status["endpoints"]["writer"]["port"]) as conn:
        conn.execute("CHECKPOINT")  # writes global/pg_control by its full path
    assert stat.S_IMODE(box.state_dir.stat().st_mode) == 0o710
    before = {name: c["pid"] for name, c in _postgres(status).items()}
    assert {name: c["pid"] for name, c in _postgres(_healthy(box)).items()} == before


def _owner(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid


def _attempts(problem: str | None) -> int:
    """The failed-attempt count a problem line states ("attempt N failed"), or 0."""
    found = re.search(r"attempt (\d+) failed", problem or "")
    return int(found.group(1)) if found else 0


def test_a_restart_that_keeps_failing_backs_off_is_reported_once_and_recovers(
    pg_box: Sandbox,
) -> None:
    box = pg_box
    (replica,) = box.component(_healthy(box), "postgres", "replica")
    name = replica["name"]
    box.rdsbox("fault", "stop", name, check=True)
    control = box.state_dir / "data" / name / "pgdata" / "global" / "pg_control"
    aside = control.with_name("pg_control.aside")
    control.rename(aside)  # every start now fails at once, with fresh log lines each time
    try:
        box.rdsbox("fault", "start", name, check=True)
        first = wait_for(lambda: _attempts(_status(box)["problems"].get(name)), timeout=20)
        started = time.monotonic()
        # Without back-off an attempt ran every cycle (0.1 s): ~15 in 3 s. With it:
        # 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s between the first six.
        wait_for(lambda: time.monotonic() - started >= 3.0, timeout=5)
        problem = _status(box)["problems"][name]
        assert _attempts(problem) - first <= 5, problem
        assert "next attempt in" in problem and "could not find" in problem.lower(), problem
        failed = [e for e in _events(box) if e["source"] == name and "could not" in e["message"]]
        assert len(failed) == 1, failed  # one kind of failure: one event
    finally:
        aside.rename(control)
    wait_for(lambda: name not in (s := _healthy(box))["problems"] and s, timeout=30)
    recovered = [e for e in _events(box) if e["source"] == name and "recovered" in e["message"]]
    assert len(recovered) == 1, recovered


def test_a_standby_whose_rejoin_keeps_failing_is_retried_until_it_works(pg_box: Sandbox) -> None:
    box = pg_box
    (standby,) = box.component(_healthy(box), "postgres", "standby")
    name, port = standby["name"], int(standby["port"])
    with _port_taken_while_down(box, name, port):
        # It once gave up for good after 3 attempts; now it keeps trying, paced.
        wait_for(lambda: _attempts(_status(box)["problems"].get(name)) >= 4, timeout=40)
        failed = [e for e in _events(box) if e["source"] == name and "could not" in e["message"]]
        assert len(failed) == 1 and "rejoined" in failed[0]["message"], failed
    status = wait_for(lambda: name not in (s := _healthy(box))["problems"] and s, timeout=40)
    assert _postgres(status)[name]["role"] == "standby"
    recovered = [e for e in _events(box) if e["source"] == name and "recovered" in e["message"]]
    assert len(recovered) == 1, recovered


def test_the_standby_health_check_does_not_flood_its_log(pg_box: Sandbox) -> None:
    box = pg_box
    (standby,) = box.component(_healthy(box), "postgres", "standby")
    log = StateDir(box.state_dir).log_file(standby["name"])

    def refusals() -> int:
        return log.read_text(errors="replace").count("hot standby mode is disabled")

    before, started = refusals(), time.monotonic()
    unhealthy: list[dict[str, Any]] = []

    def watched_3_s() -> bool:
        status = _status(box)
        if not _postgres(status)[standby["name"]]["healthy"]:
            unhealthy.append(status)
        return time.monotonic() - started >= 3.0

    # Checked ~10 times a second, the standby refused (and logged) each one: ~30 in 3 s.
    wait_for(watched_3_s, timeout=6, interval=0.2)
    assert refusals() - before <= 6
    assert not unhealthy, unhealthy[0]  # it still counts as healthy throughout
    # A dead standby is still noticed at once (its process is watched, not its answer).
    os.kill(int(standby["pid"]), signal.SIGKILL)
    wait_for(lambda: _postgres(_status(box))[standby["name"]]["pid"] != standby["pid"], timeout=2)
