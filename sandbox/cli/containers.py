"""`rdsbox compose-check`: the static checks of the container backend's compose file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sandbox.cli.app import app, print_json


@app.command("compose-check")
def compose_check(
    file: Annotated[
        Path | None,
        typer.Argument(help="Compose file (default: the compose/docker-compose.yml of rdsbox)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the problems as JSON.")] = False,
) -> None:
    """Check a compose file without Docker: health checks, ports on 127.0.0.1, pinned
    images, the `rdsbox env` variable names in the .env beside it, component names.

    Exit status 0 when it passes, 1 when it breaks a rule (one line per problem)."""
    from sandbox.backends.compose_check import check_compose
    from sandbox.backends.compose_env import COMPOSE_FILE
    from sandbox.errors import ConfigError

    path = file or COMPOSE_FILE
    if not path.is_file():
        raise ConfigError(f"compose file {path} does not exist; pass the path of one")
    problems = check_compose(path)
    if as_json:
        print_json({"file": str(path), "ok": not problems, "problems": problems})
    elif problems:
        for problem in problems:
            sys.stdout.write(f"{problem}\n")
    else:
        sys.stdout.write(f"{path}: ok\n")
    raise typer.Exit(1 if problems else 0)
