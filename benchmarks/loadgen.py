#!/usr/bin/env python3
"""Load generator throughput beside the servers' own benchmark tools, in one run.

Measured, at equal connection counts (``--workers`` x ``--concurrency`` connections):

- cache hits: `rdsbox load` closed loop, cache-aside, reads only, a warmed key set (every
  request a GET through the cache_primary endpoint plus the application's decoding) vs
  ``redis-benchmark -t get`` through the same endpoint;
- database reads through the proxy: `rdsbox load` closed loop, strategy none, reads only,
  pooled connections through the proxy (SELECT by primary key) vs ``pgbench -S`` (also a
  SELECT by primary key) through the proxy.

Target: each ratio >= 0.3 on 2 cores. The generator is Python (a request is a few dozen
microseconds of interpreter time, plus the HDR histogram and the consistency checker),
the anchors are C; both share the same two cores with the servers.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys

from _common import Sandbox, log, rdsbox_command, run_pgbench, terminate_on_sigterm

from sandbox.workload.loadgen import run_load
from sandbox.workload.spec import LoadSpec

TARGET = 0.3
TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)


def _env(sandbox: Sandbox) -> dict[str, str]:
    argv = [*rdsbox_command(), "--state-dir", str(sandbox.state_dir), "env", "--json"]
    return dict(json.loads(subprocess.run(argv, capture_output=True, check=True).stdout))


def _load(env: dict[str, str], args: argparse.Namespace, **spec: object) -> float:
    summary = run_load(
        LoadSpec(
            mode="closed",
            duration=args.duration,
            read_ratio=1.0,
            keys=args.keys,
            zipf=0.0,
            workers=args.workers,
            concurrency=args.concurrency,
            **spec,  # type: ignore[arg-type]
        ),
        env,
    )
    if summary.errors:
        raise RuntimeError(f"load run had errors: {summary.errors_by_kind}")
    return summary.throughput


def redis_benchmark(env: dict[str, str], clients: int, args: argparse.Namespace) -> float:
    """``redis-benchmark -t get`` requests per second through the cache_primary endpoint."""
    program = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
    requests = max(10_000, int(args.duration * 40_000))
    # redis-benchmark reads no REDISCLI_AUTH: the (sandbox-local) token goes in -a.
    out = subprocess.run(
        [program, "-h", env["REDIS_HOST"], "-p", env["REDIS_PORT"], "-a", env["REDIS_AUTH_TOKEN"],
         "-c", str(clients), "-n", str(requests), "-r", str(args.keys), "-t", "get", "--csv"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    row = next(line for line in out.splitlines() if line.startswith('"GET"'))
    return float(row.split(",")[1].strip('"'))


def pgbench_select(sandbox: Sandbox, port: int, clients: int, args: argparse.Namespace) -> float:
    """``pgbench -S`` tps through ``port``."""
    threads = str(min(clients, 2))
    output = run_pgbench(
        ["-S", "-n", "-c", str(clients), "-j", threads, "-T", str(round(args.duration))],
        port,
        sandbox.password(),
        sandbox.workdir,
    )
    match = TPS.search(output)
    if match is None:
        raise RuntimeError(f"no tps line in pgbench output:\n{output}")
    return float(match.group(1))


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Start a sandbox and measure the four figures."""
    sandbox = Sandbox(args.port_base)
    clients = args.workers * args.concurrency
    try:
        log(f"starting a sandbox at port base {args.port_base}")
        log(f"sandbox healthy after {sandbox.up():.2f} s")
        env = _env(sandbox)
        proxy = sandbox.endpoint_port("proxy")
        run_pgbench(["-i", "-s", "1", "-q"], proxy, sandbox.password(), sandbox.workdir)
        log("warming the cache (every key loaded once)")
        _load(env, args, strategy="cache-aside", ttl=600.0)
        figures = {
            "load_cache_hits": _load(env, args, strategy="cache-aside", ttl=600.0),
            "redis_benchmark_get": redis_benchmark(env, clients, args),
            "load_db_reads_proxy": _load(env, args, strategy="none", path="proxy"),
            "pgbench_select_proxy": pgbench_select(sandbox, proxy, clients, args),
        }
        for name, value in figures.items():
            log(f"{name}: {value:.0f}/s")
        return figures
    finally:
        log("stopping the sandbox (down --purge)")
        sandbox.down()


def report(figures: dict[str, float], args: argparse.Namespace) -> bool:
    """Print the ratios; True when both meet the target."""
    pairs = {
        "cache hits vs redis-benchmark GET": ("load_cache_hits", "redis_benchmark_get"),
        "DB reads via proxy vs pgbench -S": ("load_db_reads_proxy", "pgbench_select_proxy"),
    }
    ratios = {label: figures[a] / figures[b] for label, (a, b) in pairs.items()}
    met = all(r >= TARGET for r in ratios.values())
    if args.json:
        print(json.dumps({"figures": figures, "ratios": ratios, "target": TARGET, "met": met}))
        return met
    clients = args.workers * args.concurrency
    print(f"{clients} connections ({args.workers} workers x {args.concurrency}), "
          f"{args.duration:g} s per measurement")  # fmt: skip
    for label, (a, b) in pairs.items():
        verdict = "PASS" if ratios[label] >= TARGET else "MISS"
        print(f"{label:<36} {figures[a]:>9.0f}/s vs {figures[b]:>9.0f}/s  "
              f"ratio {ratios[label]:.2f} (target >= {TARGET}) {verdict}")  # fmt: skip
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=2, help="load worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="connections per worker")
    parser.add_argument("--keys", type=int, default=1000, help="distinct keys")
    parser.add_argument("--port-base", type=int, default=21100, help="sandbox port base")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.duration < 1 or min(args.workers, args.concurrency, args.keys) < 1:
        parser.error("--duration must be >= 1 and the counts >= 1")
    terminate_on_sigterm()
    sys.exit(0 if report(measure(args), args) else 1)


if __name__ == "__main__":
    main()
