#!/usr/bin/env python3
"""Collector overhead benchmark: load throughput with the metrics collector on vs off.

Two sandboxes (default topology), identical but for ``timing.metrics_interval_s``: 1 s (the
default, collector on) and 0 (off). Only one runs at a time (a running sandbox's collector
would tax the other's measurement); they alternate in ABBA order over --rounds pairs. In
each phase: ``pgbench -S`` through the proxy endpoint, then ``redis-benchmark -t get`` on
the Redis primary, for --duration seconds each. Medians compared. Every start is followed by
a discarded warm-up run of each tool (--warmup seconds): a freshly started sandbox (replicas
catching up, cold caches) must not be what gets compared.

Target: throughput loss with the collector on < 5% for both workloads. Beside it, the
supervisor's own CPU time during the phases (the collector's direct cost, in percent of
one core), which stays readable when a shared machine makes the throughput figures noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import time
from pathlib import Path

from _common import Sandbox, check_port_base, log, median, terminate_on_sigterm
from endpoints import Bench

MODES = ("on", "off")
CONFIGS = {"on": "timing: {metrics_interval_s: 1.0}\n", "off": "timing: {metrics_interval_s: 0}\n"}
GET_RPS = re.compile(r"GET: ([0-9.]+) requests per second")
TARGET_LOSS_PCT = 5.0


def redis_get(sandbox: Sandbox, clients: int, seconds: int, rate_guess: float) -> float:
    """One ``redis-benchmark -t get`` on the Redis primary sized to about ``seconds``;
    its requests per second."""
    primary = next(
        c for c in sandbox.status["components"] if c["kind"] == "redis" and c["role"] == "primary"
    )
    token = json.loads((sandbox.state_dir / "credentials.json").read_text())["redis_auth_token"]
    requests = max(10_000, int(rate_guess * seconds))
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(primary["port"]), "-a", token]
    argv += ["-t", "get", "-c", str(clients), "-n", str(requests), "-q"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    match = GET_RPS.search(out)
    if match is None:
        raise RuntimeError(f"no GET figure in redis-benchmark output:\n{out}")
    return float(match.group(1))


def supervisor_seconds(sandbox: Sandbox) -> float:
    """CPU seconds (user + system) the sandbox's supervisor process has used so far."""
    pid = json.loads((sandbox.state_dir / "run" / "supervisor.pid").read_text())["pid"]
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """Run the ABBA phases; per workload and mode, one figure per phase."""
    results: dict[str, dict[str, list[float]]] = {
        "pgbench": {m: [] for m in MODES},
        "redis": {m: [] for m in MODES},
        "supervisor_cpu_pct": {m: [] for m in MODES},
    }
    boxes = {
        mode: Sandbox(args.port_base + 50 * i, config=CONFIGS[mode]) for i, mode in enumerate(MODES)
    }
    order = [m for pair in range(args.rounds) for m in (MODES if pair % 2 == 0 else MODES[::-1])]
    running: str | None = None
    rate_guess = 30_000.0
    try:
        for phase, mode in enumerate(order):
            if running != mode:
                if running is not None:
                    boxes[running].stop()
                box = boxes[mode]
                log(f"starting the collector-{mode} sandbox ({box.up():.1f} s)")
                if not results["pgbench"][mode]:
                    Bench(box).initialise(args.scale)
                # A fresh start (replicas catching up, cold caches) must not count: warm up.
                Bench(box).select_only("proxy", args.clients, 2, args.warmup)
                redis_get(box, args.clients, args.warmup, rate_guess)
                running = mode
            box = boxes[mode]
            cpu_before, began = supervisor_seconds(box), time.monotonic()
            tps = Bench(box).select_only("proxy", args.clients, 2, args.duration)
            rps = redis_get(box, args.clients, args.duration, rate_guess)
            cpu = 100 * (supervisor_seconds(box) - cpu_before) / (time.monotonic() - began)
            rate_guess = rps
            results["pgbench"][mode].append(tps)
            results["redis"][mode].append(rps)
            results["supervisor_cpu_pct"][mode].append(cpu)
            log(
                f"phase {phase + 1}/{len(order)} collector {mode}: {tps:.0f} tps, "
                f"{rps:.0f} GET/s, supervisor {cpu:.1f}% of a core"
            )
    finally:
        log("stopping the sandboxes (down --purge)")
        for box in boxes.values():
            box.down()
    return results


def report(results: dict[str, dict[str, list[float]]], args: argparse.Namespace) -> None:
    """Print the loss per workload, as a table or JSON."""
    rows = {}
    for workload in ("pgbench", "redis"):
        on, off = median(results[workload]["on"]), median(results[workload]["off"])
        rows[workload] = {"on": on, "off": off, "loss_pct": 100.0 * (1 - on / off)}
    met = all(row["loss_pct"] < TARGET_LOSS_PCT for row in rows.values())
    cpu = {mode: median(results["supervisor_cpu_pct"][mode]) for mode in MODES}
    if args.json:
        document = {"rounds": args.rounds, "duration_s": args.duration, "results": results}
        print(
            json.dumps(
                {**document, "medians": rows, "supervisor_cpu_pct": cpu, "target_met": met},
                indent=2,
            )
        )
        return
    print(
        f"collector on (metrics_interval_s 1) vs off (0): median of {args.rounds * 2} ABBA "
        f"phases of {args.duration} s, {args.clients} clients"
    )
    print(f"{'workload':<34} {'on':>10} {'off':>10} {'loss':>7}")
    names = {
        "pgbench": "pgbench -S via proxy (tps)",
        "redis": "redis-benchmark GET (req/s)",
    }
    for workload, row in rows.items():
        figures = f"{row['on']:>10.0f} {row['off']:>10.0f} {row['loss_pct']:>6.1f}%"
        print(f"{names[workload]:<34} {figures}")
    print(
        f"supervisor CPU during the phases: on {cpu['on']:.1f}%, off {cpu['off']:.1f}% of one "
        f"core: the collector's own cost is {cpu['on'] - cpu['off']:.1f} points"
    )
    print(f"target: loss < {TARGET_LOSS_PCT:.0f}% for both: {'PASS' if met else 'MISS'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="clients per tool (default 8)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per run (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="ABBA pairs (default 2)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds (default 2)")
    parser.add_argument("--scale", type=int, default=1, help="pgbench -i -s (default 1)")
    parser.add_argument("--port-base", type=int, default=21200, help="first sandbox's port base")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if min(args.clients, args.duration, args.rounds, args.scale, args.warmup) < 1:
        parser.error("--clients, --duration, --rounds, --scale and --warmup must be >= 1")
    check_port_base(parser, args.port_base, 100)
    terminate_on_sigterm()
    report(measure(args), args)


if __name__ == "__main__":
    main()
