#!/usr/bin/env python3
"""Failover soak: N consecutive unplanned failovers (SIGKILL of whichever node is primary)
under write load through the proxy.

Prints: acknowledged rows lost (must be 0), recovery time (SIGKILL -> first acknowledged
commit after it) median and max, and the supervisor's resident memory and open files before
and after (they must not grow). Anchor: the first failover's recovery, beside the last ones'.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import psycopg
from _common import Sandbox, connect_db, log, median, terminate_on_sigterm
from failover import _pid, _settled, crash


class Ledger:
    """A writer that commits numbered rows through the proxy and records each ack."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        #: (row number, when its INSERT was sent, when its commit was acknowledged)
        self.acked: list[tuple[int, float, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n, conn = 0, None
        port = self.box.endpoint_port("proxy")
        while not self.stop.is_set():
            try:
                conn = conn or connect_db(
                    port,
                    self.box.password(),
                    autocommit=True,
                    connect_timeout=2,
                    prepare_threshold=None,
                )
                n += 1
                sent = time.monotonic()
                conn.execute("INSERT INTO soak_ledger VALUES (%s)", (n,))
                self.acked.append((n, sent, time.monotonic()))
            except psycopg.Error:
                conn = None
                time.sleep(0.005)

    def first_ack_after(self, moment: float, timeout: float = 120) -> float:
        """Seconds from ``moment`` to the first acknowledged commit sent after it (a commit
        in flight at the kill may still be acknowledged: it was durable before)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            later = [acked for _, sent, acked in self.acked[-200:] if sent > moment]
            if later:
                return min(later) - moment
            time.sleep(0.005)
        raise RuntimeError(f"no commit acknowledged within {timeout} s of the failover")


def _name(status: dict[str, object]) -> str:
    components = status["components"]
    assert isinstance(components, list)
    return next(c["name"] for c in components if c["kind"] == "postgres" and c["role"] == "primary")


def supervisor_usage(pid: int) -> tuple[float, int]:
    """Resident memory (MiB) and open file descriptors of the supervisor."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return rss_kb / 1024, len(list(Path(f"/proc/{pid}/fd").iterdir()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--failovers", type=int, default=20, help="default 20")
    parser.add_argument("--port-base", type=int, default=23000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    terminate_on_sigterm()
    box = Sandbox(args.port_base)
    recoveries: list[float] = []
    try:
        box.up()
        status = _settled(box)
        supervisor = int(status["supervisor"]["pid"])
        with box.connect("writer", autocommit=True) as conn:
            conn.execute("CREATE TABLE soak_ledger (n int PRIMARY KEY)")
        ledger = Ledger(box)
        ledger.thread.start()
        time.sleep(1)  # a second of load, so the supervisor's steady state is measured
        before = supervisor_usage(supervisor)
        for run in range(1, args.failovers + 1):
            status = _settled(box)
            crash(_pid(status, "postgres"))
            killed_at = time.monotonic()  # after the last SIGKILL: the primary is gone
            recoveries.append(ledger.first_ack_after(killed_at))
            log(
                f"failover {run}/{args.failovers}: killed {_name(status)}, first commit "
                f"after {recoveries[-1]:.3f} s"
            )
        _settled(box)
        after = supervisor_usage(supervisor)
        ledger.stop.set()
        ledger.thread.join(timeout=10)
        with box.connect("writer", autocommit=True) as conn:
            stored = {row[0] for row in conn.execute("SELECT n FROM soak_ledger")}
        lost = [n for n, _, _ in ledger.acked if n not in stored]
        events = (box.state_dir / "events.jsonl").read_text().splitlines()
        completed = sum("failover completed" in line for line in events)
    finally:
        box.down()
    figures = {
        "failovers": args.failovers,
        "acknowledged": len(ledger.acked),
        "lost": len(lost),
        "failovers_completed": completed,
        "recovery_median_s": median(recoveries),
        "recovery_max_s": max(recoveries),
        "recovery_first_s": recoveries[0],
        "supervisor_rss_mib": [round(before[0], 1), round(after[0], 1)],
        "supervisor_open_files": [before[1], after[1]],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"failover soak: {args.failovers} unplanned failovers under write load (proxy)")
    for label, value in (
        ("acknowledged commits", f"{figures['acknowledged']}"),
        ("acknowledged commits lost (must be 0)", f"{figures['lost']}"),
        ("failovers completed (events)", f"{completed}"),
        ("recovery median / max", f"{median(recoveries):.3f} / {max(recoveries):.3f} s"),
        ("recovery of the first failover (anchor)", f"{recoveries[0]:.3f} s"),
        ("supervisor RSS before -> after", f"{before[0]:.1f} -> {after[0]:.1f} MiB"),
        ("supervisor open files before -> after", f"{before[1]} -> {after[1]}"),
        ("verdict", "PASS" if not lost and after[1] <= before[1] + 2 else "MISS"),
    ):
        print(f"{label:<42} {value:>24}")


if __name__ == "__main__":
    main()
