"""The lifecycle contract every managed server shares.

Modelled on testcontainers: ``start()`` prepares, spawns and waits until ready, returning
self; ``stop()`` shuts down gracefully, ``kill()`` does not; ``health()`` probes; the
context manager stops the server on exit and also when ``start()`` fails half-way.
Readiness is a small :class:`WaitStrategy` that notices a dead child and puts its last log
lines into the error, so a failed start says why.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Literal, Self

from sandbox.binaries import Binaries
from sandbox.errors import ComponentFailedError
from sandbox.privileges import RunAs
from sandbox.process import PidRecord, spawn, stop_recorded, tail
from sandbox.statedir import StateDir

Kind = Literal["postgres", "pgbouncer", "redis", "sentinel", "moto", "haproxy"]
HOST = "127.0.0.1"
#: Where a start failure's message begins quoting the server's log (it changes each time).
LOG_TAIL_MARK = "; last log lines: "


@dataclass(frozen=True)
class ServerContext:
    """What every server of one sandbox shares: where its files go, who runs it, the
    programs found for it and how long it may take to start."""

    state: StateDir
    run_as: RunAs
    binaries: Binaries
    startup_timeout: float


@dataclass(frozen=True)
class WaitStrategy:
    """Poll a server's probe until it answers, the child dies, or the timeout passes."""

    timeout: float
    interval: float = 0.02

    def wait(self, server: ManagedServer) -> None:
        """Return once ready; raise :class:`ComponentFailedError` with the log tail otherwise."""
        deadline = time.monotonic() + self.timeout
        while True:
            code = server.exit_code()
            if code is not None:
                raise server.failure(f"exited with status {code} while starting")
            if server.probe():
                return
            if time.monotonic() >= deadline:
                raise server.failure(f"was not ready after {self.timeout:g} s")
            time.sleep(self.interval)


class ManagedServer(ABC):
    """One server process owned by the sandbox: its files, its process, its probe."""

    kind: ClassVar[Kind]
    #: Signal for a graceful stop; postgres prefers SIGINT ("fast" shutdown).
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    #: Whether the process drops to the unprivileged user when rdsbox runs as root.
    runs_unprivileged: ClassVar[bool] = False

    def __init__(self, name: str, port: int, context: ServerContext) -> None:
        self.name = name
        self.port = port
        self.host = HOST
        self.context = context
        self.state = context.state
        self.run_as = context.run_as
        self.binaries = context.binaries
        self.startup_timeout = context.startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    # -- what each kind provides -------------------------------------------------------
    def prepare(self) -> None:  # noqa: B027 - optional hook with a sensible default
        """Write config files and data the server needs before it starts (idempotent)."""

    @abstractmethod
    def command(self) -> list[str]:
        """The argv that runs the server in the foreground."""

    @abstractmethod
    def probe(self) -> bool:
        """One quick readiness/health check; never raises."""

    # -- the shared contract -----------------------------------------------------------
    @property
    def log_path(self) -> Path:
        """Where the server's output goes."""
        return self.state.log_file(self.name)

    @property
    def pid_path(self) -> Path:
        """The pid file that lets a later ``down`` find this process."""
        return self.state.pid_file(self.name)

    @property
    def pid(self) -> int | None:
        """Pid of the running process (also one started by an earlier supervisor)."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        record = PidRecord.read(self.pid_path)
        return record.pid if record is not None and record.alive() else None

    def exit_code(self) -> int | None:
        """Exit status when the child has exited, else None."""
        return None if self._proc is None else self._proc.poll()

    def is_running(self) -> bool:
        """True while the process exists."""
        return self.pid is not None

    def start(self) -> Self:
        """Prepare, spawn and wait until ready; on failure nothing of it is left running."""
        try:
            self.prepare()
            self.launch()
            WaitStrategy(self.startup_timeout).wait(self)
        except BaseException:
            self.kill()
            raise
        return self

    def launch(self) -> None:
        """Spawn the process without waiting for readiness."""
        run_as = self.run_as if self.runs_unprivileged else None
        self._proc = spawn(
            self.command(),
            self.log_path,
            self.pid_path,
            run_as=run_as,
            stop_signal=self.stop_signal,
        )

    def release(self) -> None:  # noqa: B027 - optional hook with a sensible default
        """Close the client connections the probe keeps open between checks."""

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (the kind's stop signal), then SIGKILL after ``timeout``."""
        self.release()
        stop_recorded(self.pid_path, self.stop_signal, timeout)
        self._reap()

    def kill(self) -> None:
        """Immediate SIGKILL of the whole process group."""
        self.release()
        stop_recorded(self.pid_path, signal.SIGKILL, 5.0)
        self._reap()

    def health(self) -> bool:
        """Running and answering its probe."""
        return self.is_running() and self.probe()

    def failure(self, what: str) -> ComponentFailedError:
        """An error naming this server, what happened and its last log lines."""
        lines = [line.strip() for line in tail(self.log_path, 3) if line.strip()]
        last = " | ".join(lines) if lines else "no output"
        return ComponentFailedError(
            f"{self.name} ({self.kind}) {what}{LOG_TAIL_MARK}{last}; full log: {self.log_path}"
        )

    def _reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self._proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
