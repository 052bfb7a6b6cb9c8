"""The supervisor process: brings the cluster up, runs the control loop, serves the API,
and stops everything when asked (control API, SIGTERM or SIGINT)."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sandbox.binaries import Binaries
from sandbox.client_env import client_env
from sandbox.config import SandboxConfig
from sandbox.credentials import Credentials
from sandbox.errors import RdsboxError
from sandbox.privileges import RunAs, write_private
from sandbox.process import PidRecord, raise_nofile_limit
from sandbox.statedir import StateDir
from sandbox.supervisor.bringup import BringUp
from sandbox.supervisor.cleanup import SUPERVISOR
from sandbox.supervisor.cluster import Cluster, Progress
from sandbox.supervisor.collection import build_collector
from sandbox.supervisor.control_api import ControlApi
from sandbox.supervisor.control_loop import ControlLoop
from sandbox.supervisor.db_actions import DatabaseActions
from sandbox.supervisor.events import EventLog
from sandbox.supervisor.faults import Faults
from sandbox.supervisor.ha import HighAvailability
from sandbox.supervisor.snapshot import Observer, Snapshot, status_document
from sandbox.tls import TlsFiles, tls_enabled

log = logging.getLogger("rdsbox.supervisor")


@dataclass(frozen=True)
class Prepared:
    """Everything checked before a supervisor may start: nothing runs yet."""

    config: SandboxConfig
    state: StateDir
    binaries: Binaries
    run_as: RunAs


def env_document(cluster: Cluster) -> dict[str, str]:
    """The `rdsbox env` variables (a contract: extend, never rename)."""
    tls = TlsFiles.of(cluster.state) if tls_enabled(cluster.config) else None
    return client_env(
        cluster.topology,
        secret_arn=cluster.secret_arn or "",
        redis_auth_token=cluster.credentials.redis_auth_token,
        ca_cert=tls.ca_cert if tls else None,
    )


class Supervisor:
    """One sandbox's supervisor, run in its own (background) process."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.state = prepared.state
        self.stop_requested = threading.Event()
        self.cluster: Cluster | None = None
        self.snapshot: Snapshot | None = None
        self.loop: ControlLoop | None = None
        self.faults: Faults | None = None
        #: One actor at a time: the control loop's actions and faults.
        self.lock = threading.RLock()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT ask for a clean stop."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop_requested.set())

    def run(self, progress: Progress, on_ready: Callable[[dict[str, Any]], None]) -> None:
        """Bring up, serve until asked to stop, tear down. Raises if bring-up fails."""
        raise_nofile_limit()
        prepared, state = self.prepared, self.state
        record = PidRecord.of(os.getpid(), SUPERVISOR)
        if record is not None:
            record.write(state.pid_file(SUPERVISOR))
        credentials = Credentials.load_or_create(state.credentials_file)
        cluster = Cluster(prepared.config, state, prepared.binaries, prepared.run_as, credentials)
        self.cluster = cluster
        api: ControlApi | None = None
        collector = None
        try:
            took = BringUp(cluster, progress).run()
            log.info("sandbox up in %.2f s", took)
            events = EventLog(state.events_file)
            events.record(
                prepared.config.database.identifier,
                "notification",
                f"DB instance available (sandbox up in {took:.2f} s).",
            )
            with ThreadPoolExecutor(max_workers=16) as pool:
                ha = HighAvailability(cluster, DatabaseActions(cluster, events, pool), events)
                self.loop = ControlLoop(cluster, ha=ha)
                self.faults = Faults(cluster, ha, events, self.lock)
                api = ControlApi(
                    cluster.topology.port("control"),
                    credentials.control_token,
                    {
                        ("GET", "/v1/status"): lambda _: (200, self.status()),
                        ("GET", "/v1/env"): lambda _: (200, env_document(cluster)),
                        ("GET", "/v1/decisions"): lambda _: (
                            200,
                            list(self.loop.sentences) if self.loop else [],
                        ),
                        ("POST", "/v1/fault"): self._fault,
                        ("POST", "/v1/promote-replica"): self._promote_replica,
                        ("POST", "/v1/shutdown"): self._shutdown,
                    },
                )
                api.start()
                write_private(state.token_file, credentials.control_token)
                state.control_file.write_text(
                    json.dumps({"port": cluster.topology.port("control"), "pid": os.getpid()})
                )
                observer = Observer(cluster, pool, cluster.timing.health_check_timeout_s)
                self.snapshot = observer.observe()
                # Its own thread and connections: a slow sample never delays the loop.
                collector = build_collector(cluster, events)
                if collector is not None:
                    collector.start()
                on_ready(self.status())
                self._serve(observer)
                # Before the pool waits for its probes: a hung server would hold them.
                self.faults.clear()
        finally:
            if collector is not None:
                collector.stop()
            if api is not None:
                api.stop()
            if self.faults is not None:
                self.faults.close()  # a SIGSTOPped server would ignore the stop signal
            state.control_file.unlink(missing_ok=True)
            cluster.stop()
            state.pid_file(SUPERVISOR).unlink(missing_ok=True)
            log.info("sandbox stopped")

    def _serve(self, observer: Observer) -> None:
        cluster, loop = self.cluster, self.loop
        assert cluster is not None and loop is not None
        interval = cluster.timing.health_check_interval_s
        while not self.stop_requested.wait(interval):
            self.snapshot = observer.observe()
            with self.lock:
                loop.cycle(self.snapshot)

    def status(self) -> dict[str, Any]:
        """The current status document."""
        assert self.cluster is not None and self.snapshot is not None
        document = status_document(self.cluster, self.snapshot, os.getpid())
        if self.faults is not None:
            document["faults"] = self.faults.describe()
            document["problems"] = self.faults.ha.problems()
        return document

    def _fault(self, body: dict[str, Any]) -> tuple[int, Any]:
        assert self.faults is not None
        problem = fault_body_problem(body)
        if problem is not None:
            return 400, {"error": problem}
        try:
            done = self.faults.apply(
                str(body.get("fault")),
                body.get("target"),
                body.get("seconds"),
                body.get("options") or {},  # checked above: a mapping or None
            )
        except RdsboxError as exc:
            return 400, {"error": str(exc)}
        return 200, {"done": done}

    def _promote_replica(self, body: dict[str, Any]) -> tuple[int, Any]:
        assert self.faults is not None
        try:
            with self.lock:
                done = self.faults.ha.promote_replica(str(body.get("target")))
        except RdsboxError as exc:
            return 400, {"error": str(exc)}
        return 200, {"done": done}

    def _shutdown(self, _body: dict[str, Any]) -> tuple[int, Any]:
        self.stop_requested.set()
        return 202, {"stopping": True}


#: Longest fault duration (a day): longer timers overflow, and a fault without --for
#: lasts until `rdsbox fault clear` anyway.
MAX_FAULT_SECONDS = 86400.0
#: Largest value of a fault option (latency ms and jitter: ten minutes).
MAX_FAULT_OPTION = 600_000.0


def fault_body_problem(body: dict[str, Any]) -> str | None:
    """What is wrong with a ``POST /v1/fault`` body's types and ranges, or None. Names
    and targets are the fault's own business (they answer with the valid ones)."""
    fault, target = body.get("fault"), body.get("target")
    seconds = body.get("seconds")
    # None (or no key) means no options; an empty list or text is no mapping of options.
    options = {} if body.get("options") is None else body["options"]
    if not isinstance(fault, str):
        return "fault must be text (a fault name, e.g. latency)"
    if target is not None and not isinstance(target, str):
        return "target must be text"
    if seconds is not None and not (_is_number(seconds) and 0 < seconds <= MAX_FAULT_SECONDS):
        return f"seconds (--for) must be a number > 0 and <= {MAX_FAULT_SECONDS:g}"
    if not isinstance(options, dict) or not all(
        isinstance(key, str) and _is_number(value) and 0 <= value <= MAX_FAULT_OPTION
        for key, value in options.items()
    ):
        return f"options (--ms, --jitter) must map names to numbers from 0 to {MAX_FAULT_OPTION:g}"
    return None


def _is_number(value: object) -> bool:
    """A finite JSON number (JSON from Python may hold NaN and Infinity)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
