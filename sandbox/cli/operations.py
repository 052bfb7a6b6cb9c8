"""Commands that act on a running sandbox's control plane: events and faults."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sandbox.cli.app import app, options, print_json

fault_app = typer.Typer(
    help="Inject a fault (like AWS FIS). Faults with --for undo themselves; "
    "`rdsbox fault clear` and `rdsbox down` undo all.",
    no_args_is_help=True,
)
app.add_typer(fault_app, name="fault")

NameArg = Annotated[str, typer.Argument(help="Component name (see `rdsbox status`).")]
EndpointArg = Annotated[
    str, typer.Argument(help="writer, reader, proxy, cache_primary or cache_reader.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]


@app.command()
def events(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new events.")
    ] = False,
) -> None:
    """RDS-style events: failovers, restarts, configuration changes, faults."""
    from dataclasses import asdict

    from sandbox.supervisor.events import follow_events, read_events

    state = options(ctx).state()
    recorded = read_events(state.events_file)
    if as_json and not follow:
        print_json([asdict(e) for e in recorded])
        return
    for event in recorded if not follow else recorded[-20:]:
        sys.stdout.write((event.line() if not as_json else _json_line(event)) + "\n")
    if follow:
        sys.stdout.flush()
        for event in follow_events(state.events_file):
            sys.stdout.write((event.line() if not as_json else _json_line(event)) + "\n")
            sys.stdout.flush()


def _json_line(event: object) -> str:
    import json
    from dataclasses import asdict

    return json.dumps(asdict(event))  # type: ignore[call-overload]


def _send(
    ctx: typer.Context,
    fault: str,
    target: str | None = None,
    seconds: float | None = None,
    as_json: bool = False,
) -> None:
    from sandbox.client import ControlClient

    answer = ControlClient(options(ctx).state()).fault(fault, target, seconds)
    if as_json:
        print_json(answer)
    else:
        sys.stdout.write(f"{answer['done']}\n")


@fault_app.command("kill")
def kill(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """SIGKILL a component (a crash); the control plane recovers it."""
    _send(ctx, "kill", name, as_json=as_json)


@fault_app.command("stop")
def stop(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Stop a component and keep it stopped until `rdsbox fault start NAME`."""
    _send(ctx, "stop", name, as_json=as_json)


@fault_app.command("start")
def start(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Release a stopped component; the control loop brings it back."""
    _send(ctx, "start", name, as_json=as_json)


@fault_app.command("hang")
def hang(
    ctx: typer.Context,
    name: NameArg,
    seconds: Annotated[float, typer.Option("--for", help="Seconds until it resumes.")],
    as_json: JsonOpt = False,
) -> None:
    """Freeze a component (SIGSTOP) for some seconds, then resume it (SIGCONT)."""
    _send(ctx, "hang", name, seconds, as_json=as_json)


@fault_app.command("db-failover")
def db_failover(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Planned Multi-AZ failover (like a reboot with failover)."""
    _send(ctx, "db-failover", as_json=as_json)


@fault_app.command("cache-failover")
def cache_failover(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Fail the Redis replication group over (like ElastiCache TestFailover)."""
    _send(ctx, "cache-failover", as_json=as_json)


@fault_app.command("reset")
def reset(ctx: typer.Context, endpoint: EndpointArg, as_json: JsonOpt = False) -> None:
    """Drop every connection through an endpoint."""
    _send(ctx, "reset", endpoint, as_json=as_json)


@fault_app.command("clear")
def clear(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Undo every fault now."""
    _send(ctx, "clear", as_json=as_json)
