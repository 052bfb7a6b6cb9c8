"""Unit tests of child processes, pid files with identity, log tails and polling.

The only children started are ``sleep`` processes, each stopped by a fixture."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.process import (
    PidRecord,
    is_zombie,
    process_cwd,
    process_start_time,
    spawn,
    stop_recorded,
    tail,
    wait_until,
)

Spawner = Callable[..., subprocess.Popen[bytes]]


def running(proc: subprocess.Popen[bytes]) -> bool:
    """The child exists and has not exited (a zombie counts as exited)."""
    return proc.poll() is None and not is_zombie(proc.pid)


@pytest.fixture
def spawn_sleep(tmp_path: Path) -> Iterator[Spawner]:
    """Start ``sleep 30`` children; every one is killed and reaped at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(
        name: str = "sleeper", stop_signal: signal.Signals = signal.SIGTERM
    ) -> subprocess.Popen[bytes]:
        proc = spawn(
            ["sleep", "30"],
            tmp_path / "logs" / f"{name}.log",
            tmp_path / f"{name}.pid",
            stop_signal=stop_signal,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_spawn_records_a_live_process(tmp_path: Path, spawn_sleep: Spawner) -> None:
    proc = spawn_sleep()
    record = PidRecord.read(tmp_path / "sleeper.pid")
    assert record is not None
    assert record.pid == proc.pid
    assert record.program == "sleep"
    assert record.stop_signal == "SIGTERM"
    assert record.start_time == process_start_time(proc.pid)
    assert record.alive()
    assert (tmp_path / "logs" / "sleeper.log").exists()


def test_spawn_starts_a_new_session(spawn_sleep: Spawner) -> None:
    proc = spawn_sleep()
    assert os.getpgid(proc.pid) == proc.pid
    assert os.getsid(proc.pid) == proc.pid
    assert os.getpgid(proc.pid) != os.getpgid(0)


def test_spawn_records_the_stop_signal(tmp_path: Path, spawn_sleep: Spawner) -> None:
    spawn_sleep("pg", stop_signal=signal.SIGINT)
    record = PidRecord.read(tmp_path / "pg.pid")
    assert record is not None
    assert record.stop_signal == "SIGINT"


def test_stop_recorded_stops_and_removes_the_pid_file(tmp_path: Path, spawn_sleep: Spawner) -> None:
    proc = spawn_sleep()
    pid_path = tmp_path / "sleeper.pid"
    record = PidRecord.read(pid_path)
    assert record is not None
    started = time.monotonic()
    assert stop_recorded(pid_path, timeout=5.0) is True
    assert time.monotonic() - started < 5.0, "SIGTERM should stop sleep without escalation"
    assert not pid_path.exists()
    assert proc.wait(timeout=5) == -signal.SIGTERM
    assert not record.alive()


def test_stop_recorded_uses_the_given_signal(tmp_path: Path, spawn_sleep: Spawner) -> None:
    proc = spawn_sleep()
    assert stop_recorded(tmp_path / "sleeper.pid", signal.SIGKILL, timeout=5.0)
    assert proc.wait(timeout=5) == -signal.SIGKILL


def test_wrong_start_time_is_not_our_process(tmp_path: Path, spawn_sleep: Spawner) -> None:
    proc = spawn_sleep()
    real = PidRecord.read(tmp_path / "sleeper.pid")
    assert real is not None
    stranger = PidRecord(real.pid, real.start_time + 1, real.program)
    assert not stranger.alive()
    pid_path = tmp_path / "stranger.pid"
    stranger.write(pid_path)
    assert stop_recorded(pid_path, timeout=1.0) is False
    assert not pid_path.exists()
    # The real process was left alone.
    assert running(proc)
    os.kill(proc.pid, 0)
    assert real.alive()


def test_a_record_of_another_boot_is_not_our_process(tmp_path: Path, spawn_sleep: Spawner) -> None:
    # After a reboot the same pid may start at the same tick count since boot: only the
    # boot id tells the two apart.
    proc = spawn_sleep()
    real = PidRecord.read(tmp_path / "sleeper.pid")
    assert real is not None and real.boot and real.alive()
    other_boot = dataclasses.replace(real, boot="00000000-0000-0000-0000-000000000000")
    assert not other_boot.alive()
    pid_path = tmp_path / "old-boot.pid"
    other_boot.write(pid_path)
    assert stop_recorded(pid_path, timeout=1.0) is False
    assert running(proc)
    # Pid files of older versions carry no boot id: start time alone decides.
    assert dataclasses.replace(real, boot="").alive()


def test_stop_recorded_without_a_pid_file(tmp_path: Path) -> None:
    assert stop_recorded(tmp_path / "missing.pid", timeout=0.1) is False


def test_stop_recorded_with_a_garbled_pid_file(tmp_path: Path) -> None:
    pid_path = tmp_path / "garbled.pid"
    pid_path.write_text("{not json")
    assert stop_recorded(pid_path, timeout=0.1) is False
    assert not pid_path.exists()


def test_pid_record_round_trip(tmp_path: Path) -> None:
    record = PidRecord(1234, 5678, "/usr/bin/postgres", "SIGINT")
    record.write(tmp_path / "x.pid")
    assert PidRecord.read(tmp_path / "x.pid") == record
    assert not (tmp_path / "x.tmp").exists()


@pytest.mark.parametrize(
    "text", ["", "[]", "null", '{"pid": 1}', '{"pid": "x", "start": 1, "prog": "p"}']
)
def test_pid_record_read_of_bad_content_is_none(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.pid").write_text(text)
    assert PidRecord.read(tmp_path / "bad.pid") is None


def test_pid_record_of_a_missing_process_is_none() -> None:
    # Above the kernel's pid_max, so no such process can exist.
    assert PidRecord.of(2**22 + 1, "ghost") is None
    assert process_start_time(2**22 + 1) is None


def test_own_process_is_alive() -> None:
    record = PidRecord.of(os.getpid(), "pytest")
    assert record is not None
    assert record.alive()


def test_process_cwd_of_a_child_a_zombie_and_no_process(tmp_path: Path) -> None:
    proc = subprocess.Popen(["sleep", "30"], cwd=tmp_path)
    try:
        assert process_cwd(proc.pid) == tmp_path.resolve()
    finally:
        proc.kill()
    wait_until(lambda: is_zombie(proc.pid), 5.0)
    assert process_cwd(proc.pid) is None  # a zombie works nowhere
    proc.wait()
    assert process_cwd(2**22 + 1) is None


# --- tail --------------------------------------------------------------------------------


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(30)))
    assert tail(log, 3) == ["line 27", "line 28", "line 29"]
    assert tail(log) == [f"line {i}" for i in range(10, 30)]


def test_tail_of_a_short_file(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("only\n")
    assert tail(log, 5) == ["only"]


def test_tail_of_a_large_file(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"{i:06d} {'x' * 90}\n" for i in range(5000)))
    assert [line[:6] for line in tail(log, 3)] == ["004997", "004998", "004999"]


def test_tail_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert tail(tmp_path / "missing.log") == []


# --- wait_until --------------------------------------------------------------------------


def test_wait_until_gives_up_after_its_timeout() -> None:
    started = time.monotonic()
    assert wait_until(lambda: False, timeout=0.1, interval=0.01) is False
    elapsed = time.monotonic() - started
    assert 0.1 <= elapsed < 2.0


def test_wait_until_with_zero_timeout_asks_once() -> None:
    calls: list[float] = []

    def never() -> bool:
        calls.append(time.monotonic())
        return False

    assert wait_until(never, timeout=0) is False
    assert len(calls) == 1


def test_wait_until_returns_as_soon_as_true() -> None:
    answers = iter([False, False, True])
    started = time.monotonic()
    assert wait_until(lambda: next(answers), timeout=5.0, interval=0.01) is True
    assert time.monotonic() - started < 2.0
