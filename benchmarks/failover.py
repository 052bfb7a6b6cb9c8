#!/usr/bin/env python3
"""Failover time: from SIGKILL of the primary to the first successful commit, through the
proxy and through the writer endpoint, and from SIGKILL of the Redis primary to the first
successful SET through the cache_primary endpoint; beside the floor measured in the same
run: SIGKILL of a hand-made primary, then `pg_ctl promote` of its streaming replica until
the first commit on it.

Targets (profile fast): <= 1.0 s through the proxy and <= 1.0 s for Redis (Sentinel alone
needs about 0.9 s at 500 ms down-after). Anchors: Patroni's defaults take about 30 s, RDS
Multi-AZ 60-120 s. With `--profile aws` (minutes; not in CI) it prints direct vs proxy
recovery and the reduction, beside AWS's published figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import threading
import time
from typing import Any

import psycopg
import redis
from _common import HOST, Sandbox, connect_db, log, median, run_pg, terminate_on_sigterm
from startup import Floor

from sandbox.binaries import find_binary
from sandbox.process import descendants

PROXY_TARGET_S = 1.0
REDIS_TARGET_S = 1.0


def _until(action: Any, deadline_s: float = 300.0) -> float:
    """Retry ``action`` every 5 ms until it succeeds; return the monotonic time it did."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            action()
            return time.monotonic()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _commit(port: int, password: str, holder: dict[str, Any]) -> None:
    """One INSERT on a kept connection (reopened after an error)."""
    try:
        conn = holder.get("conn") or connect_db(
            port, password, autocommit=True, connect_timeout=2, prepare_threshold=None
        )
        holder["conn"] = conn
        conn.execute("INSERT INTO failover_probe VALUES (now())")
    except psycopg.Error:
        holder.pop("conn", None)
        raise


def _settled(box: Sandbox) -> dict[str, Any]:
    """Wait until everything is healthy and the standby is synchronous; return status."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = box.refresh()
        standby = [c for c in status["components"] if c["role"] == "standby"]
        if status.get("healthy") and standby:
            with box.connect("writer") as conn:
                row = conn.execute(
                    "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s",
                    (standby[0]["name"],),
                ).fetchone()
            if row == ("sync",):
                return status
        time.sleep(0.2)
    raise RuntimeError("the sandbox did not settle (healthy, synchronous standby) in 120 s")


def _pid(status: dict[str, Any], kind: str) -> int:
    return next(
        int(c["pid"]) for c in status["components"] if c["kind"] == kind and c["role"] == "primary"
    )


def crash(pid: int) -> None:
    """SIGKILL a server and every process under it at once: PostgreSQL backends leave the
    postmaster's process group, and a backend that outlives its postmaster for a moment
    still commits (its walsender too), which is no crash at all."""
    for victim in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def database_failover(box: Sandbox) -> tuple[float, float]:
    """SIGKILL the primary; seconds to the first commit through the proxy and the writer."""
    status = _settled(box)
    password = box.password()
    results: dict[str, float] = {}
    holders: dict[str, dict[str, Any]] = {"proxy": {}, "writer": {}}
    for name, holder in holders.items():  # warm connections, as a running app has
        _commit(box.endpoint_port(name), password, holder)
    killed = threading.Event()
    threads = []
    for name, holder in holders.items():

        def probe(name: str = name, holder: dict[str, Any] = holder) -> None:
            killed.wait()
            results[name] = _until(lambda: _commit(box.endpoint_port(name), password, holder))

        threads.append(threading.Thread(target=probe, daemon=True))
    for thread in threads:
        thread.start()
    began = time.monotonic()
    crash(_pid(status, "postgres"))
    killed.set()
    for thread in threads:
        thread.join(timeout=600)
    for holder in holders.values():
        if holder.get("conn"):
            holder["conn"].close()
    return results["proxy"] - began, results["writer"] - began


def cache_failover(box: Sandbox) -> float:
    """SIGKILL the Redis primary; seconds to the first SET through cache_primary."""
    status = _settled(box)
    token = json.loads((box.state_dir / "credentials.json").read_text())["redis_auth_token"]
    port = box.endpoint_port("cache_primary")

    def set_key() -> None:
        client = redis.Redis(
            host=HOST, port=port, password=token, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        try:
            client.set("failover-probe", "1")
        finally:
            client.close()

    set_key()
    began = time.monotonic()
    crash(_pid(status, "redis"))
    return _until(set_key) - began


def floor_promote(port: int) -> float:
    """A hand-made primary and replica: SIGKILL the primary, `pg_ctl promote` the replica;
    seconds until the first commit on it."""
    floor = Floor(port)
    try:
        floor.run()
        replica = floor.workdir / "follower0"
        holder: dict[str, Any] = {}
        floor.procs[0].kill()
        floor.procs[0].wait()
        began = time.monotonic()
        run_pg([str(find_binary("pg_ctl")), "promote", "-D", str(replica)], floor.workdir)

        def commit() -> None:
            conn = holder.get("conn") or connect_db(
                port + 1, floor.password, "postgres", autocommit=True, connect_timeout=2
            )
            holder["conn"] = conn
            conn.execute("CREATE TABLE IF NOT EXISTS t (v int); INSERT INTO t VALUES (1)")

        done = _until(commit)
        holder["conn"].close()
        return done - began
    finally:
        floor.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="failovers of each kind (default 5)")
    parser.add_argument("--profile", choices=["fast", "aws"], default="fast")
    parser.add_argument("--port-base", type=int, default=23000)
    parser.add_argument("--floor-port", type=int, default=23100)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    terminate_on_sigterm()
    box = Sandbox(args.port_base, extra=("--profile", args.profile))
    proxy_s: list[float] = []
    writer_s: list[float] = []
    redis_s: list[float] = []
    floor_s: list[float] = []
    try:
        box.up()
        with box.connect("writer", autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS failover_probe (at timestamptz)")
        for run in range(1, args.runs + 1):
            proxy, writer = database_failover(box)
            proxy_s.append(proxy)
            writer_s.append(writer)
            redis_s.append(cache_failover(box) if args.profile == "fast" else float("nan"))
            floor_s.append(floor_promote(args.floor_port))
            log(
                f"run {run}/{args.runs}: proxy {proxy:.3f} s, writer {writer:.3f} s, "
                f"redis {redis_s[-1]:.3f} s, floor {floor_s[-1]:.3f} s"
            )
    finally:
        box.down()
    report(args, proxy_s, writer_s, redis_s, floor_s)


def report(
    args: argparse.Namespace,
    proxy_s: list[float],
    writer_s: list[float],
    redis_s: list[float],
    floor_s: list[float],
) -> None:
    """Print medians, ratios to the floor and the targets."""
    figures = {
        "profile": args.profile,
        "runs": args.runs,
        "proxy_s": median(proxy_s),
        "writer_s": median(writer_s),
        "redis_s": median(redis_s),
        "floor_promote_s": median(floor_s),
        "proxy_max_s": max(proxy_s),
        "proxy_reduction_vs_writer_pct": 100 * (1 - median(proxy_s) / median(writer_s)),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    rows = [
        ("floor: pg_ctl promote to first commit", f"{figures['floor_promote_s']:.3f} s"),
        ("SIGKILL primary -> first commit via proxy", f"{figures['proxy_s']:.3f} s"),
        ("SIGKILL primary -> first commit via writer", f"{figures['writer_s']:.3f} s"),
        ("proxy / floor", f"{figures['proxy_s'] / figures['floor_promote_s']:.2f}x"),
        ("proxy reduction vs writer endpoint", f"{figures['proxy_reduction_vs_writer_pct']:.0f} %"),
    ]
    if args.profile == "fast":
        rows += [
            ("SIGKILL Redis primary -> first SET", f"{figures['redis_s']:.3f} s"),
            (
                f"target: proxy <= {PROXY_TARGET_S} s",
                "PASS" if figures["proxy_s"] <= PROXY_TARGET_S else "MISS",
            ),
            (
                f"target: redis <= {REDIS_TARGET_S} s",
                "PASS" if figures["redis_s"] <= REDIS_TARGET_S else "MISS",
            ),
        ]
    else:
        rows.append(("AWS published: Multi-AZ 60-120 s; RDS Proxy up to 66 % faster", ""))
    print(f"failover, profile {args.profile}, median of {args.runs}")
    for label, value in rows:
        print(f"{label:<46} {value:>10}")


if __name__ == "__main__":
    main()
