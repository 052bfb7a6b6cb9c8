"""Commands for clients of a running sandbox: env, logs, psql, redis-cli."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from typing import Annotated, Literal

import typer

from sandbox.cli.app import app, options, print_json
from sandbox.errors import UnknownNameError
from sandbox.statedir import StateDir


@app.command()
def env(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print `export NAME=value` lines for clients: eval "$(rdsbox env)".

    This is the one command that prints the secrets (the Redis token); the database
    password is read by clients from the Secrets Manager secret."""
    from sandbox.backends import sandbox_env

    variables = sandbox_env(options(ctx).state())
    if as_json:
        print_json(variables)
        return
    for name, value in variables.items():
        sys.stdout.write(f"export {name}={shlex.quote(value)}\n")


def _component_names(ctx: typer.Context) -> list[str]:
    state = options(ctx).state()
    return sorted(p.stem for p in state.logs.glob("*.log")) if state.logs.is_dir() else []


@app.command()
def logs(
    ctx: typer.Context,
    component: Annotated[
        str, typer.Argument(help="Component name (see `rdsbox status`), or supervisor / endpoints.")
    ],
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many last lines.")] = 50,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing.")] = False,
) -> None:
    """Print a component's log."""
    state = options(ctx).state()
    path = state.log_file(component)
    if not path.exists():
        known = ", ".join(_component_names(ctx)) or "none yet (run `rdsbox up`)"
        raise UnknownNameError(f"no log for component '{component}'; known: {known}")
    from sandbox.process import tail

    for line in tail(path, lines):
        sys.stdout.write(line + "\n")
    if not follow:
        return
    sys.stdout.flush()
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        while True:
            chunk = handle.read()
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", "replace"))
                sys.stdout.flush()
            else:
                time.sleep(0.2)


def _exec(program: str, argv: list[str], extra_env: dict[str, str]) -> None:
    os.execvpe(program, argv, {**os.environ, **extra_env})


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(
    ctx: typer.Context,
    via: Annotated[
        Literal["proxy", "writer", "reader"],
        typer.Option("--via", help="Which endpoint to connect through."),
    ] = "proxy",
) -> None:
    """Open psql on the application database (extra arguments go to psql)."""
    from sandbox.binaries import find_binary
    from sandbox.client import ControlClient

    state = options(ctx).state()
    client = ControlClient(state)
    status = client.status()
    # PGSSLMODE / PGSSLROOTCERT when the database requires TLS (psql reads them).
    tls = {k: v for k, v in client.env().items() if k in ("PGSSLMODE", "PGSSLROOTCERT")}
    where = status["endpoints"].get(via)
    if where is None:
        raise UnknownNameError(f"endpoint '{via}' is not part of this sandbox (proxy disabled?)")
    config = status_config(state)
    password = _db_password(state)
    program = str(find_binary("psql"))
    _exec(
        program,
        [program, *ctx.args],
        {
            "PGHOST": where["host"],
            "PGPORT": str(where["port"]),
            "PGUSER": config["database"]["username"],
            "PGDATABASE": config["database"]["db_name"],
            "PGPASSWORD": password,
            "PGAPPNAME": f"rdsbox-psql-{via}",
            **tls,
        },
    )


@app.command(
    "redis-cli", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def redis_cli(
    ctx: typer.Context,
    via: Annotated[
        Literal["primary", "reader"],
        typer.Option("--via", help="cache_primary or cache_reader endpoint."),
    ] = "primary",
) -> None:
    """Open redis-cli on the cache (authenticated; extra arguments go to redis-cli)."""
    from sandbox.backends import sandbox_env
    from sandbox.binaries import find_binary

    variables = sandbox_env(options(ctx).state())
    prefix = "REDIS_READER" if via == "reader" else "REDIS"
    program = str(find_binary("redis-cli"))
    address = ["-h", variables[f"{prefix}_HOST"], "-p", variables[f"{prefix}_PORT"]]
    if variables.get("REDIS_TLS") == "1":
        address += ["--tls", "--cacert", variables["REDIS_CA_CERT"]]
    # REDISCLI_AUTH keeps the token out of the process list.
    _exec(
        program,
        [program, *address, *ctx.args],
        {"REDISCLI_AUTH": variables["REDIS_AUTH_TOKEN"]},
    )


def status_config(state: StateDir) -> dict[str, dict[str, str]]:
    """The resolved configuration the sandbox runs with."""
    return dict(json.loads(state.config_file.read_text()))


def _db_password(state: StateDir) -> str:
    from sandbox.credentials import Credentials

    return Credentials.load_or_create(state.credentials_file).db_password
