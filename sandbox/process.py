"""Child processes with pid files that carry identity, so cleanup never kills a stranger.

Every server runs in its own session (process group) so that the whole group can be
signalled, also by a later ``rdsbox down`` after the supervisor was SIGKILLed. A pid file
records the pid, the process start time (from /proc), the boot it was written in and the
program; a pid whose start time or boot differs is a reused number and is left alone
(start times count from boot, so after a reboot only the boot id tells them apart).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sandbox.privileges import RunAs


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[19])


def boot_id() -> str:
    """This boot's random id (empty when the kernel does not offer one)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_cwd(pid: int) -> Path | None:
    """Working directory of ``pid``; None when there is no such process (or it is a
    zombie). Raises PermissionError for another user's process when we are not root."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except (FileNotFoundError, ProcessLookupError):
        return None


def is_zombie(pid: int) -> bool:
    """True for a process that exited but was not reaped."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2 :].split()[0] == "Z"


@dataclass(frozen=True)
class PidRecord:
    """What a pid file holds: enough to recognise the very process that wrote it."""

    pid: int
    start_time: int
    program: str
    #: How to stop it gracefully (postgres: SIGINT, a "fast" shutdown).
    stop_signal: str = "SIGTERM"
    #: The boot the process was started in (empty in pid files of older versions).
    boot: str = ""

    def alive(self) -> bool:
        """Same boot, same pid, same start time, not a zombie: the process we started is
        still there (and not another program that got its number after a reboot)."""
        if self.boot and self.boot != boot_id():
            return False
        return process_start_time(self.pid) == self.start_time and not is_zombie(self.pid)

    def write(self, path: Path) -> None:
        """Store this record atomically."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "pid": self.pid,
                    "start": self.start_time,
                    "prog": self.program,
                    "stop": self.stop_signal,
                    "boot": self.boot,
                }
            )
        )
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> PidRecord | None:
        """The record in ``path``, or None when missing or unreadable."""
        try:
            data = json.loads(path.read_text())
            return cls(
                int(data["pid"]),
                int(data["start"]),
                str(data["prog"]),
                str(data.get("stop", "SIGTERM")),
                str(data.get("boot") or ""),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @classmethod
    def of(cls, pid: int, program: str, stop_signal: str = "SIGTERM") -> PidRecord | None:
        """Record the running process ``pid``."""
        start = process_start_time(pid)
        return None if start is None else cls(pid, start, program, stop_signal, boot_id())


def raise_nofile_limit() -> None:
    """Raise this process's open-file limit; children (poolers, routers) inherit it."""
    # Done once in the supervisor, not in a preexec_fn: those are unsafe with threads.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, 65536), hard))


def spawn(
    argv: Sequence[str | os.PathLike[str]],
    log_path: Path,
    pid_path: Path,
    run_as: RunAs | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stop_signal: signal.Signals = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session, output appended to ``log_path``, pid recorded."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        switch = run_as is not None and run_as.switches
        if env is None and switch and run_as is not None:
            env = run_as.environment()
        proc = subprocess.Popen(
            [os.fspath(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            # Servers rewrite files that hold secrets (Sentinel's and Redis's CONFIG
            # REWRITE replace the 0600 file with a new one): whatever they create is
            # private to their user.
            umask=0o077,
            user=run_as.uid if switch and run_as else None,
            group=run_as.gid if switch and run_as else None,
            extra_groups=[] if switch else None,
        )
    record = PidRecord.of(proc.pid, os.fspath(argv[0]), stop_signal.name)
    if record is not None:
        record.write(pid_path)
    return proc


def run_checked(
    argv: Sequence[str | os.PathLike[str]],
    run_as: RunAs | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a short helper program (initdb, pg_basebackup) to completion, output captured."""
    switch = run_as is not None and run_as.switches
    if env is None and switch and run_as is not None:
        env = run_as.environment()
    return subprocess.run(
        [os.fspath(a) for a in argv],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        check=False,
        user=run_as.uid if switch and run_as else None,
        group=run_as.gid if switch and run_as else None,
        extra_groups=[] if switch else None,
    )


def signal_group(record: PidRecord, sig: signal.Signals) -> bool:
    """Send ``sig`` to the process group led by ``record``'s process, if it is still ours."""
    if not record.alive():
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, sig)
        return True
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(record.pid, sig)
        return True
    return False


@dataclass(frozen=True)
class ProcStat:
    """What the collector and cleanup need from one /proc/PID/stat line."""

    ppid: int
    #: utime + stime + cutime + cstime, in clock ticks: a reaped child's time moves into
    #: its parent's cutime/cstime, so the sum over a process tree never goes backwards.
    cpu_ticks: int


def process_table() -> dict[int, ProcStat]:
    """Every live process, read from /proc in one pass."""
    table: dict[int, ProcStat] = {}
    # Plain os/bytes calls: the collector runs this every second, pathlib costs 2x more.
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        # The command name (field 2) may contain spaces and parentheses: split after it.
        fields = raw[raw.rindex(b")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        table[int(name)] = ProcStat(int(fields[1]), ticks)
    return table


def descendants(pid: int, table: Mapping[int, ProcStat] | None = None) -> list[int]:
    """Every live descendant of ``pid`` (children first seen via /proc's parent links);
    ``table`` reuses a :func:`process_table` already read."""
    children: dict[int, list[int]] = {}
    for child, stat in (table if table is not None else process_table()).items():
        children.setdefault(stat.ppid, []).append(child)
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def signal_tree(record: PidRecord, sig: signal.Signals) -> bool:
    """Signal the recorded process and all its descendants, if it is still ours.

    Needed where children leave the process group: PostgreSQL backends call setsid()."""
    if not record.alive():
        return False
    for pid in [record.pid, *descendants(record.pid)]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return True


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass; returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def stop_recorded(
    pid_path: Path, first: signal.Signals | None = None, timeout: float = 10.0
) -> bool:
    """Stop the process group a pid file names: ``first`` signal (default: the one the
    record names), then SIGKILL after ``timeout``. True if something was stopped."""
    record = PidRecord.read(pid_path)
    if record is None or not record.alive():
        pid_path.unlink(missing_ok=True)
        return False
    sig = first or signal.Signals[record.stop_signal]
    if sig == signal.SIGKILL:
        # Descendants outside the group (postgres backends call setsid) die too, also
        # when frozen by SIGSTOP: orphans would hold the server's shared memory.
        signal_tree(record, sig)
    else:
        signal_group(record, sig)
    if not wait_until(lambda: not record.alive(), timeout):
        signal_tree(record, signal.SIGKILL)
        wait_until(lambda: not record.alive(), 5.0)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signal.SIGKILL)
    pid_path.unlink(missing_ok=True)
    return True


def tail(path: Path, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of a log file (empty when it does not exist)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return data.splitlines()[-lines:]
