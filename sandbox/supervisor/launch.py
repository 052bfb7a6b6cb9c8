"""Starting a supervisor: pre-flight checks in the caller, then a forked background process
that reports its progress over a pipe until the sandbox is healthy (or failed)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from sandbox.binaries import Binaries
from sandbox.config import SandboxConfig
from sandbox.errors import ComponentFailedError, RdsboxError
from sandbox.privileges import RunAs
from sandbox.statedir import StateDir
from sandbox.supervisor.cleanup import sweep
from sandbox.supervisor.cluster import REQUIRED_BINARIES, Progress
from sandbox.supervisor.daemon import Prepared, Supervisor
from sandbox.tls import tls_enabled
from sandbox.topology import Topology


def preflight(config: SandboxConfig, state: StateDir) -> Prepared:
    """Every check that can fail before anything starts: binaries, user, state dir, ports;
    and the sandbox CA and certificate when TLS is on (made once per state dir).

    Leftovers of a supervisor that died (its pid files) are stopped first, so their ports
    do not count as busy."""
    binaries = Binaries.discover(REQUIRED_BINARIES)
    run_as = RunAs.detect()
    run_as.check_can_reach(state.root)
    state.ensure()
    for directory in (state.root, state.data_root, state.conf_root):
        run_as.open_dir_to(directory)
    sweep(state)
    if tls_enabled(config):
        # Imported here: only a TLS sandbox pays for loading `cryptography`.
        from sandbox.certs import ensure_tls_files

        ensure_tls_files(state, run_as)
    Topology(config).check_ports_free()
    state.config_file.write_text(config.model_dump_json(indent=2))
    return Prepared(config, state, binaries, run_as)


def configure_logging(stream: Any = None) -> None:
    """Timestamped supervisor logging (to the supervisor log once daemonized)."""
    logging.basicConfig(
        level=logging.INFO,
        stream=stream or sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )


def _daemonize_io(state: StateDir) -> None:
    log_fd = os.open(state.supervisor_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.close(null_fd)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)


def _child(prepared: Prepared, write_fd: int) -> int:
    """Body of the forked supervisor; returns its exit status."""
    os.setsid()
    _daemonize_io(prepared.state)
    configure_logging()
    channel = os.fdopen(write_fd, "w", buffering=1)

    def emit(message: dict[str, Any]) -> None:
        if not channel.closed:
            # OSError: `up` went away (Ctrl-C); the supervisor carries on.
            with contextlib.suppress(OSError):
                channel.write(json.dumps(message) + "\n")

    def ready(status: dict[str, Any]) -> None:
        emit({"ready": status})
        channel.close()

    supervisor = Supervisor(prepared)
    supervisor.install_signal_handlers()
    try:
        supervisor.run(lambda component, step: emit({"component": component, "step": step}), ready)
    except RdsboxError as exc:
        logging.getLogger("rdsbox.supervisor").error("%s", exc)
        emit({"error": str(exc)})
        return exc.exit_code
    except BaseException as exc:
        traceback.print_exc()
        emit({"error": f"supervisor failed: {exc}; see {prepared.state.supervisor_log}"})
        return 1
    return 0


def launch_background(prepared: Prepared, progress: Progress) -> dict[str, Any]:
    """Fork the supervisor; relay its progress; return the status once healthy."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        code = 1
        try:
            code = _child(prepared, write_fd)
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as channel:
            for line in channel:
                message = json.loads(line)
                if "ready" in message:
                    return dict(message["ready"])
                if "error" in message:
                    os.waitpid(pid, 0)
                    raise RdsboxError(str(message["error"]))
                progress(str(message["component"]), str(message["step"]))
    except KeyboardInterrupt:
        # Ctrl-C during `up`: the supervisor stops whatever it started, then exits.
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        raise
    os.waitpid(pid, 0)
    raise ComponentFailedError(
        f"the supervisor exited before the sandbox was healthy; see {prepared.state.supervisor_log}"
    )


def run_foreground(
    prepared: Prepared, progress: Progress, on_ready: Callable[[dict[str, Any]], None]
) -> None:
    """Run the supervisor in this process until Ctrl-C."""
    supervisor = Supervisor(prepared)
    supervisor.install_signal_handlers()
    supervisor.run(progress, on_ready)
