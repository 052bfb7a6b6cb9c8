#!/usr/bin/env python3
"""Connection storm: per-request connections (connect, SELECT, close, as Lambda functions
do) from more concurrent clients than the database accepts, direct to the writer endpoint
vs through the proxy, in one run (the built-in ``connection-storm`` scenario, longer).

Database ``max_connections`` 20 (3 of them reserved for superusers), proxy pool 50% = 10,
40 clients (2 worker processes x 20) in a closed loop. What must hold:

- direct: errors > 0 ("too many clients"); through the proxy: 0 errors (clients queue for
  a pooled connection within the borrow timeout);
- the proxy's database connections stay within its pool (peak client backends <= 10);
- new database backends (``pg_stat_database.sessions``): direct about one per request,
  through the proxy about zero;
- throughput through the proxy >= direct.

Do not expect a large throughput ratio on 2 shared cores: with SCRAM, the client's key
derivation (PBKDF2, 4096 rounds) dominates every new connection, and PgBouncer must verify
each one too; the proxy's win here is errors, backends and connections, not speed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from _common import log, terminate_on_sigterm

from sandbox.config import SandboxConfig
from sandbox.scenario.builtins import find_scenario
from sandbox.scenario.figures import total_figures
from sandbox.scenario.runner import RunOptions, run_scenario

POOL = 10


def measure(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Run both variants; the figures per variant."""
    scenario, _ = find_scenario("connection-storm")
    phases = tuple(p.model_copy(update={"duration": args.seconds}) for p in scenario.phases)
    scenario = scenario.model_copy(update={"phases": phases, "expect": ()})
    runs = run_scenario(
        scenario,
        RunOptions(base_config=SandboxConfig(), first_port=args.port_base, progress=log),
    )
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        if run.error:
            raise SystemExit(f"storm: variant {run.variant.name} failed: {run.error}")
        figures = total_figures(run.phases)
        seconds = figures["duration_s"] or 1.0
        out[run.variant.name] = {
            "ok": figures["ops"],
            "errors": figures["errors"],
            "refused": figures["errors_by_kind.refused"],
            "throughput": figures["throughput"],
            "p99_ms": figures["latency_ms.p99"],
            "new_backends": figures["db.new_backends"],
            "backends_per_s": (figures["db.new_backends"] or 0.0) / seconds,
            "backends_per_ok": figures["db.backends_per_request"] or 0.0,
            "peak_db_connections": figures["db.peak_connections"],
        }
    return out


def report(figures: dict[str, dict[str, Any]]) -> bool:
    """Print the figures that carry the point, and the verdicts; whether all held."""
    direct, proxy = figures["direct"], figures["proxy"]
    for name, f in figures.items():
        print(
            f"{name:<7} ok {f['ok']:>6.0f}  errors {f['errors']:>6.0f} (refused {f['refused']:.0f})"
            f"  {f['throughput']:7.1f} req/s  p99 {f['p99_ms']:8.1f} ms  new backends "
            f"{f['new_backends']:.0f} ({f['backends_per_s']:.1f}/s, {f['backends_per_ok']:.2f} "
            f"per ok request)  peak DB connections {f['peak_db_connections']:.0f}"
        )
    ratio = proxy["throughput"] / direct["throughput"] if direct["throughput"] else float("inf")
    checks = {
        "direct errors > 0 (too many clients)": direct["refused"] > 0,
        "proxy errors == 0": proxy["errors"] == 0,
        f"proxy peak DB connections <= pool ({POOL})": proxy["peak_db_connections"] <= POOL,
        "direct ~1 new backend per ok request (>= 0.8)": direct["backends_per_ok"] >= 0.8,
        "proxy ~0 new backends per ok request (<= 0.05)": proxy["backends_per_ok"] <= 0.05,
        "proxy throughput >= direct": ratio >= 1.0,
    }
    print(f"throughput proxy/direct: {ratio:.2f}x (SCRAM key derivation bounds both sides)")
    for label, held in checks.items():
        print(f"  {'ok  ' if held else 'MISS'} {label}")
    return all(checks.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="storm length per variant")
    parser.add_argument("--port-base", type=int, default=21200, help="first port tried")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.seconds < 1:
        parser.error("--seconds must be >= 1")
    terminate_on_sigterm()
    figures = measure(args)
    if args.json:
        print(json.dumps(figures, indent=2))
    sys.exit(0 if report(figures) else 1)


if __name__ == "__main__":
    main()
