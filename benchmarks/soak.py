#!/usr/bin/env python3
"""Soak: load with a database failover every minute for 30 minutes (not in CI).

While `rdsbox load` drives the reference application and a ledger writer commits numbered
rows through the proxy, the primary fails over every ``--every`` seconds (alternately a
SIGKILL of the primary and a planned `rdsbox fault db-failover`). At the end it prints:

* every failover recovered (a new primary, the old one back as the standby, all healthy)
  and how long recovery took;
* acknowledged ledger writes lost (the target: zero);
* the supervisor's memory (RSS), open files and threads at the start and at the end
  (the target: flat; a leak grows with every failover);
* the load's summary (operations, errors by kind).

Usage: ``python benchmarks/soak.py`` (30 minutes), or short:
``python benchmarks/soak.py --minutes 3 --every 30 --port-base 27900``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from _common import REPO, Sandbox, connect_db, log, median, terminate_on_sigterm


def supervisor_figures(pid: int) -> dict[str, int]:
    """RSS (KiB), open files and threads of a process, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {
        "rss_kib": int(fields["VmRSS"].split()[0]),
        "open_files": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(fields["Threads"]),
    }


class Ledger:
    """Commits 1, 2, 3, ... through the proxy; remembers which commits were acknowledged."""

    def __init__(self, port: int, password: Any) -> None:
        self.port = port
        self.password = password
        self.acknowledged: list[int] = []
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self) -> psycopg.Connection[Any]:
        return connect_db(
            self.port,
            self.password(),  # re-read: nothing rotates it here, but be safe
            autocommit=True,
            connect_timeout=3,
            prepare_threshold=None,
        )

    def start(self) -> None:
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS soak_ledger (n bigint PRIMARY KEY)")
        self._thread.start()

    def _run(self) -> None:
        n, conn = 0, None
        while not self._stop.is_set():
            try:
                conn = conn or self._connect()
                n += 1
                conn.execute("INSERT INTO soak_ledger VALUES (%s)", (n,))
                self.acknowledged.append(n)
            except psycopg.Error:
                self.failed += 1  # not acknowledged: n may or may not be stored
                conn = None
                time.sleep(0.05)
            else:
                time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def lost(self, writer_port: int) -> list[int]:
        """Acknowledged numbers missing from the table (read on the current primary)."""
        with connect_db(writer_port, self.password(), connect_timeout=5) as conn:
            stored = {row[0] for row in conn.execute("SELECT n FROM soak_ledger")}
        return sorted(set(self.acknowledged) - stored)


def primary_of(status: dict[str, Any]) -> str:
    components = status["components"]
    (primary,) = [
        c["name"] for c in components if c["kind"] == "postgres" and c["role"] == "primary"
    ]
    return str(primary)


def recovered(box: Sandbox, old: str, timeout: float) -> float | None:
    """Seconds until a new primary serves, the old one is the standby and all are healthy;
    None when that did not happen within ``timeout``."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        status = box.refresh()
        roles = {c["name"]: c["role"] for c in status.get("components", [])}
        if status.get("healthy") and primary_of(status) != old and roles.get(old) == "standby":
            return time.monotonic() - began
        time.sleep(0.2)
    return None


def fail_over_repeatedly(
    box: Sandbox, seconds: float, every: float, timeout: float
) -> list[dict[str, Any]]:
    """A failover every ``every`` seconds for ``seconds``: SIGKILL of the primary and
    planned failovers alternately; each waits for recovery."""
    began = time.monotonic()
    failovers: list[dict[str, Any]] = []
    while time.monotonic() - began + every <= seconds:
        index = len(failovers)
        time.sleep(max(0.0, began + (index + 1) * every - time.monotonic()))
        old = primary_of(box.refresh())
        how = "kill" if index % 2 == 0 else "db-failover"
        fault = ["fault", "kill", old] if how == "kill" else ["fault", "db-failover"]
        subprocess.run(box._cli(*fault), capture_output=True, check=True, cwd=REPO)
        took = recovered(box, old, timeout)
        failovers.append({"how": how, "from": old, "recovered_s": took})
        log(f"soak: failover {index + 1} ({how} {old}) recovered in {took} s")
    return failovers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="Length of the soak.")
    parser.add_argument("--every", type=float, default=60.0, help="Seconds between failovers.")
    parser.add_argument("--rate", type=float, default=100.0, help="Load requests per second.")
    parser.add_argument("--port-base", type=int, default=21400, help="Ports of the sandbox.")
    parser.add_argument(
        "--recovery-timeout", type=float, default=120.0, help="Seconds a failover may take."
    )
    args = parser.parse_args()
    terminate_on_sigterm()
    box = Sandbox(args.port_base)
    load: subprocess.Popen[str] | None = None
    ledger: Ledger | None = None
    try:
        log(f"soak: starting a sandbox on ports {args.port_base}+")
        box.up()
        supervisor = int(box.status["supervisor"]["pid"])
        proxy = int(box.status["endpoints"]["proxy"]["port"])
        ledger = Ledger(proxy, box.password)
        ledger.start()
        seconds = args.minutes * 60
        load = subprocess.Popen(
            box._cli("load", "--duration", f"{seconds:g}", "--rate", f"{args.rate:g}", "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
        )
        time.sleep(min(5.0, args.every / 2))  # warm: pools and caches filled
        start = supervisor_figures(supervisor)
        log(f"soak: supervisor at start {start}")
        failovers = fail_over_repeatedly(box, seconds, args.every, args.recovery_timeout)
        load_out, _ = load.communicate(timeout=seconds + 120)
        end = supervisor_figures(supervisor)
        ledger.stop()
        lost = ledger.lost(int(box.refresh()["endpoints"]["writer"]["port"]))
        times = [f["recovered_s"] for f in failovers if f["recovered_s"] is not None]
        summary = json.loads(load_out) if load_out.strip() else {}
        report = {
            "minutes": args.minutes,
            "every_s": args.every,
            "failovers": len(failovers),
            "recovered": len(times),
            "recovery_s": {"median": median(times), "max": max(times)} if times else None,
            "acknowledged_writes": len(ledger.acknowledged),
            "unacknowledged_attempts": ledger.failed,
            "acknowledged_lost": len(lost),
            "supervisor": {"start": start, "end": end},
            "rss_growth_kib": end["rss_kib"] - start["rss_kib"],
            "open_files_growth": end["open_files"] - start["open_files"],
            "load": {k: summary.get(k) for k in ("ops", "errors", "errors_by_kind")},
            "ok": len(times) == len(failovers) and not lost,
        }
        print(json.dumps(report, indent=2))
    finally:
        if ledger is not None:
            ledger.stop()
        if load is not None and load.poll() is None:
            load.kill()
            load.wait()
        box.down()


if __name__ == "__main__":
    main()
