"""Human-readable output of the CLI (rich), kept apart from what the commands do."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from sandbox.supervisor.cluster import Progress


def console() -> Console:
    """Console on stdout."""
    return Console(highlight=False)


def progress_printer(began: float, quiet: bool = False) -> Progress:
    """A progress callback that prints each step with the time since ``began`` (stderr)."""
    err = Console(stderr=True, highlight=False)

    def show(component: str, step: str) -> None:
        if not quiet:
            mark = "[green]✓[/green]" if step in ("ready", "stored", "synchronous") else "…"
            err.print(f"{time.monotonic() - began:6.2f}s {mark} {component}: {step}")

    return show


def endpoints(status: dict[str, Any]) -> None:
    """The endpoints table."""
    table = Table(title="Endpoints", title_justify="left")
    table.add_column("endpoint")
    table.add_column("address")
    for name, where in status["endpoints"].items():
        if where is None:
            continue
        address = where.get("url") or f"{where['host']}:{where['port']}"
        table.add_row(name, address)
    console().print(table)


def ready(status: dict[str, Any], began: float) -> None:
    """What `up` prints once healthy."""
    out = console()
    out.print(
        f"[bold green]Sandbox healthy[/bold green] in {time.monotonic() - began:.2f} s "
        f"(state dir {status['state_dir']})."
    )
    endpoints(status)
    out.print(
        'Next: [bold]eval "$(rdsbox env)"[/bold] for client settings; '
        "[bold]rdsbox psql[/bold], [bold]rdsbox redis-cli[/bold], "
        "[bold]rdsbox status[/bold], [bold]rdsbox down[/bold]."
    )
    sys.stdout.flush()


def status(document: dict[str, Any]) -> None:
    """`rdsbox status` as tables."""
    table = Table(title=f"Sandbox in {document['state_dir']}", title_justify="left")
    for column in ("name", "kind", "role", "address", "pid", "health"):
        table.add_column(column)
    for c in document["components"]:
        health = "[green]healthy[/green]" if c["healthy"] else "[red]unhealthy[/red]"
        table.add_row(
            c["name"],
            c["kind"],
            c["role"],
            f"{c['host']}:{c['port']}",
            str(c["pid"] or "-"),
            health,
        )
    console().print(table)
    for name, problem in sorted((document.get("problems") or {}).items()):
        console().print(f"[red]{name}: {problem}[/red]")
    endpoints(document)


def stopped(result: dict[str, Any]) -> None:
    """What `down` prints."""
    out = console()
    if not result["was_running"]:
        out.print(f"No sandbox was running in {result['state_dir']}.")
    else:
        how = "cleanly" if result["graceful"] else "by signal"
        extra = f" (also stopped: {', '.join(result['swept'])})" if result["swept"] else ""
        out.print(f"Sandbox in {result['state_dir']} stopped {how}{extra}.")
    if result["purged"]:
        out.print("All data deleted.")
    else:
        out.print("Data kept; `rdsbox up` resumes it, `rdsbox down --purge` deletes it.")
