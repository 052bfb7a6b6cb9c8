"""The `rdsbox` command: sandbox lifecycle (up, down, status) and global options.

Heavy modules are imported inside the commands so that `rdsbox status` stays quick.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from sandbox.errors import RdsboxError
from sandbox.statedir import StateDir

app = typer.Typer(
    name="rdsbox",
    help="Run the AWS RDS PostgreSQL + RDS Proxy + ElastiCache Redis + Secrets Manager "
    "architecture locally, with real servers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass(frozen=True)
class Options:
    """Global options, shared by every command."""

    state_dir: str | None
    config: Path | None
    port_base: int | None

    def state(self) -> StateDir:
        """The selected state dir."""
        return StateDir.resolve(self.state_dir)


def options(ctx: typer.Context) -> Options:
    """The global options of this invocation."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Options)
    return obj


@app.callback()
def _global(
    ctx: typer.Context,
    state_dir: Annotated[
        str | None,
        typer.Option(
            "--state-dir",
            envvar="RDSBOX_STATE_DIR",
            show_envvar=True,
            help="Sandbox state directory (default: .rdsbox in the working directory).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Configuration file (default: ./rdsbox.yaml when present).",
        ),
    ] = None,
    port_base: Annotated[
        int | None,
        typer.Option(
            "--port-base",
            help="First of the 50 ports the sandbox uses (overrides the config).",
        ),
    ] = None,
) -> None:
    ctx.obj = Options(state_dir, config, port_base)


def print_json(document: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


@app.command()
def up(
    ctx: typer.Context,
    detach: Annotated[
        bool,
        typer.Option(
            "-d",
            "--detach",
            help="Return once healthy, leaving the sandbox in the background "
            "(the default; kept for docker-compose habits).",
        ),
    ] = True,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Timing profile: fast (tests, demos) or aws (AWS-like delays).",
        ),
    ] = None,
    foreground: Annotated[
        bool,
        typer.Option(
            "--foreground",
            help="Keep the supervisor in this terminal until Ctrl-C.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    terraform: Annotated[
        Path | None,
        typer.Option(
            "--terraform",
            help="Start the topology of this Terraform directory (replaces --config; "
            "`rdsbox plan --terraform DIR` shows it first).",
            file_okay=False,
        ),
    ] = None,
    var_files: Annotated[
        list[Path] | None,
        typer.Option("--var-file", help="Extra .tfvars file for --terraform (repeatable)."),
    ] = None,
    backend: Annotated[
        Literal["native", "docker"],
        typer.Option(
            "--backend",
            help="native: local server processes with failover and faults (the default); "
            "docker: the containers of compose/docker-compose.yml (needs a Docker engine).",
        ),
    ] = "native",
) -> None:
    """Start the sandbox; return once every component is healthy."""
    from sandbox.backends import docker_sandbox, sandbox_status
    from sandbox.cli import render
    from sandbox.cli.terraform import resolve_config, warn
    from sandbox.credentials import Credentials
    from sandbox.supervisor.cleanup import supervisor_record
    from sandbox.supervisor.launch import launch_background, preflight, run_foreground

    opts = options(ctx)
    state = opts.state()
    if supervisor_record(state) is not None or _docker_running(state):
        status = sandbox_status(state)
        if as_json:
            print_json(status)
        else:
            render.console().print(f"A sandbox is already running in {state.root}.")
            render.endpoints(status)
        return
    config, imported = resolve_config(opts, terraform, var_files, profile)
    began = time.monotonic()
    progress = render.progress_printer(began, quiet=as_json)
    if backend == "docker":
        from sandbox.backends.docker import DockerSandbox

        status = DockerSandbox.start(config, state, progress).status()
        if as_json:
            print_json(status)
        else:
            render.ready(status, began)
        return
    if docker_sandbox(state) is not None:
        from sandbox.errors import StateDirError

        raise StateDirError(
            f"{state.root} belongs to a docker-backend sandbox; remove it with "
            f"`rdsbox down --purge` or choose another --state-dir"
        )
    prepared = preflight(config, state)
    warn(imported)
    if imported is not None:
        kept = Credentials.seed(
            state.credentials_file, imported.db_password, imported.redis_auth_token
        )
        for name in kept:
            sys.stderr.write(
                f"rdsbox: warning: {state.root} keeps its stored {name} (its data depends "
                "on it), not the Terraform value; `rdsbox down --purge` to start afresh\n"
            )
    if foreground:
        run_foreground(prepared, progress, lambda status: render.ready(status, began))
        return
    status = launch_background(prepared, progress)
    if as_json:
        print_json(status)
    else:
        render.ready(status, began)


@app.command()
def down(
    ctx: typer.Context,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete all data.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
) -> None:
    """Stop the sandbox (also after its supervisor was killed); keep data unless --purge."""
    from sandbox.backends import docker_sandbox
    from sandbox.cli import render
    from sandbox.supervisor.shutdown import shut_down

    state = options(ctx).state()
    box = docker_sandbox(state)
    result = box.stop(purge) if box is not None else shut_down(state, purge)
    if as_json:
        print_json(result)
    else:
        render.stopped(result)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show every component with its role and health, and the endpoints.

    Exit status 0 when healthy, 1 when running but not all healthy, 3 when not running."""
    from sandbox.backends import sandbox_status
    from sandbox.cli import render
    from sandbox.errors import NotRunningError

    state = options(ctx).state()
    try:
        document = sandbox_status(state)
    except NotRunningError as exc:
        if as_json:
            print_json(
                {"running": False, "state_dir": str(state.root), "components": [], "endpoints": {}}
            )
        else:
            render.console().print(str(exc))
        raise typer.Exit(3) from exc
    if as_json:
        print_json(document)
    else:
        render.status(document)
    raise typer.Exit(0 if document.get("healthy") else 1)


def _docker_running(state: StateDir) -> bool:
    """Whether ``state`` holds a docker-backend sandbox whose containers run."""
    from sandbox.backends import docker_sandbox
    from sandbox.errors import NotRunningError

    box = docker_sandbox(state)
    if box is None:
        return False
    try:
        box.status()
    except NotRunningError:
        return False
    return True


def main() -> None:
    """Console-script entry point: one line and exit 2 for every user error."""
    from sandbox.cli import (  # noqa: F401  (they register their commands)
        clients,
        containers,
        dashboard,
        demo,
        load,
        metrics,
        operations,
        scenario,
        sim,
        sim_check,
        terraform,
    )

    try:
        code = app(standalone_mode=False)
    except RdsboxError as exc:
        # One line whatever the message quotes (a name given with a newline in it).
        sys.stderr.write(f"rdsbox: error: {' '.join(str(exc).splitlines())}\n")
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("rdsbox: interrupted\n")
        sys.exit(130)
    except typer.TyperException as exc:
        # Typer vendors click; its usage errors carry show(), format_message(), ctx and
        # exit_code (2). `rdsbox` alone shows the help; every other usage error is one line.
        code = int(getattr(exc, "exit_code", 2))
        message = getattr(exc, "format_message", None)
        if type(exc).__name__ == "NoArgsIsHelpError" or not callable(message):
            show = getattr(exc, "show", None)
            if callable(show):
                show()
            sys.exit(code)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        sys.stderr.write(f"rdsbox: error: {' '.join(str(message()).splitlines())}{hint}\n")
        sys.exit(code)
    sys.exit(code if isinstance(code, int) else 0)
