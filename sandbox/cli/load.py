"""`rdsbox load`: drive the reference application against a running sandbox."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from sandbox.cli.app import app, options, print_json
from sandbox.errors import ConfigError

# Options are read as text and checked by LoadSpec, so that a bad value gets one line
# naming the option and what it accepts (exit 2), like every other user error.
Text = str | None


def _opt(help_text: str, metavar: str) -> Any:
    return typer.Option(help=help_text, metavar=metavar, show_default=False)


@app.command()
def load(
    ctx: typer.Context,
    mode: Annotated[
        Text, _opt("open: constant arrival rate; closed: back to back.", "open|closed")
    ] = None,
    rate: Annotated[
        Text, _opt("Requests per second, all workers (open loop). [200]", "RPS")
    ] = None,
    duration: Annotated[Text, _opt("Seconds of load. [10]", "S")] = None,
    read_ratio: Annotated[Text, _opt("Share of reads, 0..1. [0.9]", "R")] = None,
    keys: Annotated[Text, _opt("Distinct user ids. [1000]", "N")] = None,
    zipf: Annotated[Text, _opt("Zipf exponent of key popularity; 0 = uniform. [1.1]", "S")] = None,
    strategy: Annotated[
        Text, _opt("Caching strategy. [cache-aside]", "none|cache-aside|write-through|write-behind")
    ] = None,
    path: Annotated[
        Text, _opt("Database endpoint for reads. [proxy]", "proxy|writer|reader")
    ] = None,
    connections: Annotated[
        Text, _opt("pooled, or per-request (connect, query, close). [pooled]", "pooled|per-request")
    ] = None,
    concurrency: Annotated[Text, _opt("In-flight requests per worker. [8]", "N")] = None,
    workers: Annotated[Text, _opt("Worker processes. [1]", "N")] = None,
    ttl: Annotated[Text, _opt("Cache TTL in seconds. [60]", "S")] = None,
    ttl_jitter: Annotated[Text, _opt("TTL jitter as a share, 0..1. [0.1]", "J")] = None,
    stampede: Annotated[
        Text, _opt("Stampede protection. [none]", "none|lock|early-refresh")
    ] = None,
    fill: Annotated[
        Text,
        _opt("Cache writes: plain, or versioned (no stale-set race). [plain]", "plain|versioned"),
    ] = None,
    timeout: Annotated[Text, _opt("Per-request timeout in seconds. [2]", "S")] = None,
    seed: Annotated[Text, _opt("Seed of the request stream. [1]", "N")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON (no progress).")
    ] = False,
) -> None:
    """Drive the reference application (get_user/update_user) through the sandbox's
    endpoints; print a summary, and write the per-second series to the metrics store.

    Open loop measures latency from each request's intended start, so stalls are not
    hidden. Progress goes to stderr once a second."""
    raw = {
        "mode": mode,
        "rate": rate,
        "duration": duration,
        "read_ratio": read_ratio,
        "keys": keys,
        "zipf": zipf,
        "strategy": strategy,
        "path": path,
        "connections": connections,
        "concurrency": concurrency,
        "workers": workers,
        "ttl": ttl,
        "ttl_jitter": ttl_jitter,
        "stampede": stampede,
        "fill": fill,
        "timeout": timeout,
        "seed": seed,
    }
    spec = parse_spec({k: v for k, v in raw.items() if v is not None})
    from sandbox.client import ControlClient
    from sandbox.metrics.store import MetricsStore
    from sandbox.workload.loadgen import run_load

    state = options(ctx).state()
    env = ControlClient(state).env()
    store = MetricsStore(state.metrics_file)
    try:
        summary = run_load(spec, env, store=store, progress=None if as_json else _stderr)
    finally:
        store.close()
    if as_json:
        print_json(summary.model_dump())
        return
    _print_summary(summary.model_dump())


def parse_spec(values: dict[str, str]) -> Any:
    """A LoadSpec from option text; one-line ConfigError naming the bad option."""
    import pydantic

    from sandbox.workload.spec import LoadSpec

    try:
        return LoadSpec.model_validate(values, strict=False)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        name = "--" + str(error["loc"][0]).replace("_", "-")
        given = values.get(str(error["loc"][0]))
        raise ConfigError(f"{name} {given!r}: {error['msg'].lower()}") from None


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _print_summary(summary: dict[str, Any]) -> None:
    latency, cache = summary["latency_ms"], summary["cache"]
    lines = [
        f"ops {summary['ops']}  errors {summary['errors']}  "
        f"throughput {summary['throughput']:.1f}/s over {summary['duration_s']:.2f} s",
        f"latency ms  p50 {latency['p50']:.2f}  p95 {latency['p95']:.2f}  "
        f"p99 {latency['p99']:.2f}  max {latency['max']:.2f}",
        f"reads {summary['reads']}  writes {summary['writes']}  stale reads "
        f"{summary['stale_reads']}",
    ]
    if cache["hits"] + cache["misses"]:
        lines.append(
            f"cache hits {cache['hits']}  misses {cache['misses']}  "
            f"hit ratio {100 * cache['hit_ratio']:.1f}%"
        )
    if summary["errors_by_kind"]:
        kinds = ", ".join(f"{k} {v}" for k, v in summary["errors_by_kind"].items())
        lines.append(f"errors by kind: {kinds}")
    sys.stdout.write("\n".join(lines) + "\n")
