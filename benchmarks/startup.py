#!/usr/bin/env python3
"""Startup benchmark: wall-clock time of ``rdsbox up`` until every component is healthy.

Measured: ``rdsbox --state-dir FRESH --port-base N up --json`` (default topology: primary,
synchronous Multi-AZ standby, 2 read replicas, PgBouncer, Redis + replicas + Sentinels,
moto, HAProxy endpoints), from launch until it returns healthy; ``down --purge`` afterwards
is not timed.

Anchor (the FLOOR, measured in the same run, interleaved with the rdsbox runs): what the
sandbox minimally has to do for PostgreSQL, done directly with the same binaries and the
product's server settings (fsync=off, shared_buffers=64MB): initdb with the product's
flags, start the primary and wait until it accepts a connection, then for the 3 followers
(standby + 2 replicas, in parallel) pg_basebackup ``-X stream -c fast -N`` and start with
standby.signal and primary_conninfo until each accepts connections.

Target: median rdsbox startup <= 3.0 s for the full default topology. Medians of --runs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import (
    DB_USER,
    HOST,
    Sandbox,
    as_postgres,
    give_to_postgres,
    log,
    make_workdir,
    median,
    run_pg,
    stop_processes,
    terminate_on_sigterm,
    wait_accepting,
)

from sandbox.binaries import Binaries, find_binary
from sandbox.services.initdb import initdb_command

TARGET_S = 3.0
FOLLOWERS = 3
# The product's server settings that matter for startup (the port is added per server);
# wal_keep_size: parallel slot-less base backups otherwise race WAL recycling.
SETTINGS = (
    f"listen_addresses={HOST}",
    "unix_socket_directories=",
    "shared_buffers=64MB",
    "fsync=off",
    "hot_standby=on",
    "wal_keep_size=128MB",
)


class Floor:
    """One floor run: a primary and FOLLOWERS streaming followers, started by hand."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.password = secrets.token_hex(16)
        self.workdir = make_workdir("rdsbox-floor-")
        give_to_postgres(self.workdir)
        self.procs: list[subprocess.Popen[bytes]] = []

    def _write(self, path: Path, text: str, mode: str = "w") -> None:
        with path.open(mode) as handle:
            handle.write(text)
        path.chmod(0o600)
        give_to_postgres(path)

    def _start(self, pgdata: Path, port: int) -> None:
        argv = [str(find_binary("postgres")), "-D", str(pgdata), "-c", f"port={port}"]
        for setting in SETTINGS:
            argv += ["-c", setting]
        with (self.workdir / f"{pgdata.name}.log").open("wb") as logfile:
            proc = subprocess.Popen(
                argv,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
                **as_postgres(),
            )
        self.procs.append(proc)
        wait_accepting(port, self.password, proc, pgdata.name)

    def _follower(self, index: int) -> None:
        pgdata = self.workdir / f"follower{index}"
        env = {**os.environ, "PGPASSWORD": self.password}
        run_pg(
            [
                str(find_binary("pg_basebackup")),
                *("-h", HOST, "-p", str(self.port), "-U", DB_USER),
                *("-X", "stream", "-c", "fast", "-N", "-w", "-D", str(pgdata)),
            ],
            self.workdir,
            env,
        )
        self._write(pgdata / "standby.signal", "")
        conninfo = f"host={HOST} port={self.port} user={DB_USER} password={self.password}"
        self._write(pgdata / "postgresql.auto.conf", f"primary_conninfo = '{conninfo}'\n", "a")
        self._start(pgdata, self.port + 1 + index)

    def run(self) -> float:
        """Do it all; return the seconds from initdb until every follower accepts."""
        pwfile = self.workdir / "pwfile"
        self._write(pwfile, self.password)
        primary = self.workdir / "primary"
        began = time.monotonic()
        binaries = Binaries.discover(("initdb",))
        run_pg(initdb_command(binaries, primary, DB_USER, pwfile), self.workdir)
        self._write(
            primary / "pg_hba.conf",
            f"host replication {DB_USER} {HOST}/32 scram-sha-256\n"
            f"host all all {HOST}/32 scram-sha-256\n",
        )
        self._start(primary, self.port)
        with ThreadPoolExecutor(max_workers=FOLLOWERS) as pool:
            for future in [pool.submit(self._follower, i) for i in range(FOLLOWERS)]:
                future.result()
        return time.monotonic() - began

    def stop(self) -> None:
        """Fast-shutdown every server started, then delete the data."""
        stop_processes(self.procs)
        shutil.rmtree(self.workdir, ignore_errors=True)


def settle(seconds: float) -> None:
    """Flush and wait, so that the previous run's deletions (thousands of files) do not
    slow the next measurement; done before every run of both kinds alike."""
    os.sync()
    time.sleep(seconds)


def measure(
    runs: int, port_base: int, floor_port: int, settle_s: float = 3.0
) -> tuple[list[float], list[float]]:
    """Interleave floor and rdsbox runs; return the seconds of each run of each."""
    floor_s: list[float] = []
    rdsbox_s: list[float] = []
    for run in range(1, runs + 1):
        settle(settle_s)
        floor = Floor(floor_port)
        try:
            floor_s.append(floor.run())
        finally:
            floor.stop()
        settle(settle_s)
        sandbox = Sandbox(port_base)
        try:
            rdsbox_s.append(sandbox.up())
        finally:
            sandbox.down()
        log(f"run {run}/{runs}: floor {floor_s[-1]:.3f} s, rdsbox {rdsbox_s[-1]:.3f} s")
    return floor_s, rdsbox_s


def report(floor_s: list[float], rdsbox_s: list[float], as_json: bool) -> None:
    """Print the figures, as a table or as JSON."""
    floor_median, rdsbox_median = median(floor_s), median(rdsbox_s)
    ratio = rdsbox_median / floor_median
    met = rdsbox_median <= TARGET_S
    if as_json:
        document = {
            "runs": len(floor_s),
            "floor_s": [round(v, 3) for v in floor_s],
            "rdsbox_s": [round(v, 3) for v in rdsbox_s],
            "floor_median_s": round(floor_median, 3),
            "rdsbox_median_s": round(rdsbox_median, 3),
            "ratio_rdsbox_to_floor": round(ratio, 2),
            "target_s": TARGET_S,
            "target_met": met,
        }
        print(json.dumps(document, indent=2))
        return
    print(f"{'run':>4} {'floor s':>9} {'rdsbox s':>9}")
    for i, (f, s) in enumerate(zip(floor_s, rdsbox_s, strict=True), 1):
        print(f"{i:>4} {f:>9.3f} {s:>9.3f}")
    print()
    rows = [
        (f"floor median (initdb + primary + {FOLLOWERS} followers)", f"{floor_median:.3f} s"),
        ("rdsbox up median (full default topology)", f"{rdsbox_median:.3f} s"),
        ("ratio rdsbox/floor", f"{ratio:.2f}x"),
        (f"target: rdsbox median <= {TARGET_S:.1f} s", "PASS" if met else "MISS"),
    ]
    for label, value in rows:
        print(f"{label:<48} {value:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    parser.add_argument("--port-base", type=int, default=22000, help="rdsbox port base (50 ports)")
    parser.add_argument("--floor-port", type=int, default=22100, help="first floor port (4 ports)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds to settle before each run (default 3)"
    )
    args = parser.parse_args()
    if args.runs < 1 or max(args.port_base + 50, args.floor_port + 1 + FOLLOWERS) > 32768:
        parser.error("--runs must be >= 1 and every port below 32768")
    terminate_on_sigterm()
    report(*measure(args.runs, args.port_base, args.floor_port, args.settle), args.json)


if __name__ == "__main__":
    main()
