#!/usr/bin/env python3
"""Simulator speed benchmark: simulated requests per wall-clock second, and the what-if.

Measured: (1) the simulator on a scenario with cache, pool and database (the LoadSpec
defaults: cache-aside over 1,000 Zipf(1.1) keys, TTL 60 s, 90% reads, through RDS Proxy,
default configuration) at 4,000 requests/s until --requests requests, against the anchor:
a plain SimPy M/M/c model (Poisson arrivals, a Resource of c servers, exponential service)
of the same customer count, run in the same process; rounds interleaved, medians compared.
(2) the interactive what-if: one simulated minute at 1,000 requests/s with one Multi-AZ
failover (aws timing profile), wall-clock seconds including building the model and
computing every summary and metric sample.

Targets: >= 200,000 simulated requests per second; what-if < 1 s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import simpy
from _common import log, median

# This script's own name would shadow the `simulator` package: drop its folder from the
# import path (after importing _common from it) so `import simulator` finds the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != _HERE]

from sandbox.config import config_from_mapping  # noqa: E402
from sandbox.scenario.model import TimedFault  # noqa: E402
from sandbox.workload.spec import LoadSpec  # noqa: E402
from simulator.runner import simulate  # noqa: E402

RATE = 4000.0
TARGET_RATE = 200_000.0
TARGET_WHAT_IF_S = 1.0


def timed(work: Any) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, result) of ``work()``; CPU time shows how much of the
    wall time other processes on a shared machine took."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run_simulator(requests: int, seed: int) -> int:
    """Simulated requests of the cache + pool + database scenario."""
    spec = LoadSpec(rate=RATE, duration=requests / RATE, concurrency=64)
    return simulate(config_from_mapping({}), [("bench", spec)], seed=seed).requests


def run_simpy(customers: int, seed: int, servers: int = 8, load: float = 0.7) -> int:
    """A plain SimPy M/M/c model serving ``customers`` customers."""
    rng = random.Random(seed)
    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=servers)
    service_mean = 0.001
    rate = load * servers / service_mean

    def customer() -> Generator[Any, Any, None]:
        with pool.request() as granted:
            yield granted
            yield env.timeout(rng.expovariate(1 / service_mean))

    def source() -> Generator[Any, Any, None]:
        for _ in range(customers):
            env.process(customer())
            yield env.timeout(rng.expovariate(rate))

    env.process(source())
    env.run()
    return customers


def what_if(seed: int) -> float | None:
    """One simulated minute at 1,000 req/s with a Multi-AZ failover; its downtime."""
    config = config_from_mapping({"profile": "aws"})
    spec = LoadSpec(rate=1000, duration=60)
    faults = [TimedFault(at=10, fault="kill", target="primary")]
    return simulate(config, [("minute", spec)], faults, seed=seed).downtime_s[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400_000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.requests < 1000 or args.rounds < 1:
        parser.error("--requests must be >= 1000 and --rounds >= 1")
    figures: dict[str, list[float]] = {
        k: [] for k in ("sim", "sim_cpu", "simpy", "simpy_cpu", "what_if", "what_if_cpu")
    }
    downtime: float | None = None
    for round_ in range(args.rounds):
        log(f"round {round_ + 1}/{args.rounds}")
        seed = round_ + 1
        wall, cpu, count = timed(lambda: run_simulator(args.requests, seed))  # noqa: B023
        figures["sim"].append(count / wall)
        figures["sim_cpu"].append(count / cpu)
        wall, cpu, _ = timed(lambda: run_simpy(count, seed))  # noqa: B023
        figures["simpy"].append(count / wall)
        figures["simpy_cpu"].append(count / cpu)
        wall, cpu, downtime = timed(lambda: what_if(seed))  # noqa: B023
        figures["what_if"].append(wall)
        figures["what_if_cpu"].append(cpu)
    m = {key: median(values) for key, values in figures.items()}
    ratio = m["sim"] / m["simpy"]
    met = m["sim"] >= TARGET_RATE and m["what_if"] < TARGET_WHAT_IF_S
    if args.json:
        print(
            json.dumps(
                {
                    "requests_per_round": args.requests,
                    "rounds": args.rounds,
                    "simulator_requests_per_s": round(m["sim"]),
                    "simulator_requests_per_cpu_s": round(m["sim_cpu"]),
                    "simpy_mmc_customers_per_s": round(m["simpy"]),
                    "simpy_mmc_customers_per_cpu_s": round(m["simpy_cpu"]),
                    "ratio": round(ratio, 3),
                    "what_if_s": round(m["what_if"], 3),
                    "what_if_cpu_s": round(m["what_if_cpu"], 3),
                    "what_if_downtime_s": downtime,
                    "targets": {"requests_per_s": TARGET_RATE, "what_if_s": TARGET_WHAT_IF_S},
                    "met": met,
                },
                indent=2,
            )
        )
        return
    print(f"{'model':<34} {'median req/s':>13} {'per CPU s':>11}   per round (wall)")
    for key, label in (("sim", "simulator (cache+pool+database)"), ("simpy", "SimPy M/M/c")):
        rounds = " ".join(f"{r:,.0f}" for r in figures[key])
        print(f"{label:<34} {m[key]:>13,.0f} {m[key + '_cpu']:>11,.0f}   {rounds}")
    print(f"ratio simulator / SimPy: {ratio:.2f}")
    print(
        f"what-if (60 s at 1,000 req/s, one failover, aws profile): {m['what_if']:.3f} s "
        f"wall, {m['what_if_cpu']:.3f} s CPU (downtime {downtime:.2f} s)"
    )
    sim_rate, what_if_s = m["sim"], m["what_if"]
    verdict = "met" if met else "NOT met"
    print(
        f"targets: >= {TARGET_RATE:,.0f} req/s ({sim_rate:,.0f}) and what-if < "
        f"{TARGET_WHAT_IF_S} s ({what_if_s:.3f}): {verdict}"
    )


if __name__ == "__main__":
    main()
