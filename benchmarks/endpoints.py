#!/usr/bin/env python3
"""Endpoint overhead benchmark: pgbench select-only throughput through the sandbox endpoints.

Measured: ``pgbench -S`` tps (without initial connection time) through the ``writer``
endpoint (HAProxy) and through the ``proxy`` endpoint (PgBouncer, transaction mode, simple
protocol), against the anchor: the same run direct to the PostgreSQL primary's own port.
One sandbox (default topology, fresh state dir), ``pgbench -i -s 10`` through the writer
endpoint, then the three targets interleaved over --rounds rounds; medians compared.

Target: writer endpoint ratio (writer/direct) >= proxy ratio (proxy/direct).
"""

from __future__ import annotations

import argparse
import json
import re

from _common import Sandbox, check_port_base, log, median, run_pgbench, terminate_on_sigterm

TARGETS = ("direct", "writer", "proxy")
TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)


class Bench:
    """pgbench against one running sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.password = sandbox.password()
        self.ports = {
            "direct": sandbox.primary_port(),
            "writer": sandbox.endpoint_port("writer"),
            "proxy": sandbox.endpoint_port("proxy"),
        }

    def _pgbench(self, target: str, *args: str) -> str:
        return run_pgbench(list(args), self.ports[target], self.password, self.sandbox.workdir)

    def initialise(self, scale: int) -> None:
        """``pgbench -i -s SCALE`` through the writer endpoint."""
        self._pgbench("writer", "-i", "-s", str(scale), "-q")

    def select_only(self, target: str, clients: int, threads: int, seconds: int) -> float:
        """One ``pgbench -S`` run (default simple protocol, PgBouncer-safe); its tps."""
        output = self._pgbench(
            target, "-S", "-n", "-c", str(clients), "-j", str(threads), "-T", str(seconds)
        )
        match = TPS.search(output)
        if match is None:
            raise RuntimeError(f"no tps line in pgbench output:\n{output}")
        return float(match.group(1))


def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    """Start a sandbox, initialise, run the interleaved rounds; tps per target."""
    results: dict[str, list[float]] = {target: [] for target in TARGETS}
    sandbox = Sandbox(args.port_base)
    try:
        log(f"starting a sandbox at port base {args.port_base} in {sandbox.state_dir}")
        log(f"sandbox healthy after {sandbox.up():.2f} s")
        bench = Bench(sandbox)
        log(f"pgbench -i -s {args.scale} through the writer endpoint")
        bench.initialise(args.scale)
        for round_no in range(args.rounds):
            # Rotate the order so no target always runs first (or last) in a round.
            order = TARGETS[round_no % 3 :] + TARGETS[: round_no % 3]
            for target in order:
                tps = bench.select_only(target, args.clients, args.threads, args.duration)
                results[target].append(tps)
                log(
                    f"round {round_no + 1}/{args.rounds} {target:<6} port "
                    f"{bench.ports[target]}: {tps:.1f} tps"
                )
    finally:
        log("stopping the sandbox (down --purge)")
        sandbox.down()
    return results


def report(results: dict[str, list[float]], args: argparse.Namespace) -> None:
    """Print the figures, as a table or as JSON."""
    medians = {target: median(values) for target, values in results.items()}
    writer_ratio = medians["writer"] / medians["direct"]
    proxy_ratio = medians["proxy"] / medians["direct"]
    met = writer_ratio >= proxy_ratio
    if args.json:
        document = {
            "pgbench": f"-S -c {args.clients} -j {args.threads} -T {args.duration}",
            "scale": args.scale,
            "rounds": args.rounds,
            "tps": {target: [round(v, 1) for v in values] for target, values in results.items()},
            "median_tps": {target: round(value, 1) for target, value in medians.items()},
            "writer_ratio": round(writer_ratio, 3),
            "proxy_ratio": round(proxy_ratio, 3),
            "target": "writer_ratio >= proxy_ratio",
            "target_met": met,
        }
        print(json.dumps(document, indent=2))
        return
    print(
        f"pgbench -S -c {args.clients} -j {args.threads} -T {args.duration}, scale "
        f"{args.scale}, median of {args.rounds} interleaved rounds"
    )
    print(f"{'target':<8} {'median tps':>11} {'ratio':>7}   per round")
    for target in TARGETS:
        ratio = medians[target] / medians["direct"]
        rounds = " ".join(f"{v:.1f}" for v in results[target])
        print(f"{target:<8} {medians[target]:>11.1f} {ratio:>7.3f}   {rounds}")
    verdict = "PASS" if met else "MISS"
    print(
        f"target: writer endpoint ratio ({writer_ratio:.3f}) >= proxy ratio "
        f"({proxy_ratio:.3f}): {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="pgbench -c (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="pgbench -j (default 2)")
    parser.add_argument("--duration", type=int, default=8, help="pgbench -T seconds (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--scale", type=int, default=10, help="pgbench -i -s (default 10)")
    parser.add_argument("--port-base", type=int, default=21000, help="sandbox port base")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if min(args.clients, args.threads, args.duration, args.rounds, args.scale) < 1:
        parser.error("--clients, --threads, --duration, --rounds and --scale must be >= 1")
    check_port_base(parser, args.port_base, 50)
    terminate_on_sigterm()
    report(measure(args), args)


if __name__ == "__main__":
    main()
