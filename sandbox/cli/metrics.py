"""`rdsbox metrics`: the CloudWatch-style samples the supervisor (and the load generator)
stored in the state dir, as JSON, CSV or Prometheus text."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from sandbox.cli.app import app, options
from sandbox.metrics import formats
from sandbox.metrics.schema import Sample
from sandbox.metrics.store import MetricsStore

_FOLLOW_POLL_S = 1.0


@app.command()
def metrics(
    ctx: typer.Context,
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="Start: seconds ago (60), a span ago (90s, 5m, 2h, 1d) or an ISO time "
            "(UTC when it has no offset).",
        ),
    ] = "5m",
    until: Annotated[
        str | None, typer.Option("--until", help="End (exclusive), same forms; default now.")
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help="Only this CloudWatch metric (repeatable)."),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source", help="Only this component, or `load` (repeatable; see `rdsbox status`)."
        ),
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--format",
            help="json (a list of {ts, source, metric, value, unit}), csv (with a header) "
            "or prometheus (the latest sample of each series, text exposition format).",
        ),
    ] = "json",
    follow: Annotated[
        bool,
        typer.Option("-f", "--follow", help="Keep printing new samples (json: one per line; csv)."),
    ] = False,
) -> None:
    """Metric samples of this sandbox (CloudWatch names; one per second per series)."""
    from sandbox.client import ControlClient
    from sandbox.errors import ConfigError, NotRunningError
    from sandbox.supervisor.cleanup import supervisor_record

    now = time.time()
    start = formats.parse_time("--since", since, now)
    end = formats.parse_time("--until", until, now) if until is not None else None
    names = formats.check_metrics(metric or [])
    sources = list(source or [])
    output = formats.check_format(output)
    if follow and output == "prometheus":
        raise ConfigError("--follow works with --format json or csv, not prometheus")
    state = options(ctx).state()
    running = supervisor_record(state) is not None
    if not state.metrics_file.exists() or (follow and not running):
        ControlClient(state).status()  # not running: the usual one-line message
        raise NotRunningError(
            f"no metrics in {state.root} yet: the collector samples once per "
            "metrics_interval_s (0 turns it off); try again in a moment"
        )
    if not running:
        sys.stderr.write(f"rdsbox: the sandbox in {state.root} is not running; stored samples:\n")
    store = MetricsStore(state.metrics_file)
    try:
        if output == "prometheus":
            sys.stdout.write(formats.to_prometheus(store.latest(start, end, names, sources)))
            return
        after = store.last_row()  # before the query: --follow then misses nothing
        samples = store.query(start, end, names, sources)
        if not follow:
            text = formats.to_json(samples) if output == "json" else formats.to_csv(samples)
            sys.stdout.write(text)
            return
        _follow(store, samples, after, output, names, sources)
    finally:
        store.close()


def _follow(
    store: MetricsStore,
    batch: list[Sample],
    after: int,
    output: str,
    names: list[str],
    sources: list[str],
) -> None:
    """Print ``batch``, then every new matching sample, until interrupted."""
    seen = set(batch)  # rows appended during the first query come again: print them once
    header = True
    while True:
        if output == "json":
            sys.stdout.write(formats.to_json_lines(batch))
        else:
            sys.stdout.write(formats.to_csv(batch, header=header))
        sys.stdout.flush()
        header = False
        time.sleep(_FOLLOW_POLL_S)
        new, after = store.tail(after, names, sources)
        batch = [s for s in new if s not in seen]
        seen.clear()
