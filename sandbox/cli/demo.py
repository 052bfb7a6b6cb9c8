"""`rdsbox demo`: a short guided tour of a running sandbox, as an application would use it.

It reads the database credentials from Secrets Manager, writes through the proxy, reads
through the reader endpoint, and shows a cache-aside read missing then hitting Redis.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer

from sandbox.cli.app import app, options, print_json


def _timed(fn: Any) -> tuple[Any, float]:
    began = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - began) * 1000


def run_demo(env: dict[str, str]) -> list[dict[str, Any]]:
    """The tour's steps; each a dict with what happened and how long it took (ms)."""
    import psycopg
    import redis

    from sandbox.client_env import libpq_tls, redis_tls
    from sandbox.services.moto import secrets_client

    steps: list[dict[str, Any]] = []
    secrets = secrets_client(env)
    raw, ms = _timed(lambda: secrets.get_secret_value(SecretId=env["DB_SECRET_ARN"]))
    secret = json.loads(raw["SecretString"])
    steps.append(
        {
            "step": "read DB credentials from Secrets Manager",
            "ms": ms,
            "detail": f"user {secret['username']}, engine {secret['engine']}",
        }
    )

    def db(port: str) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=secret["username"],
            password=secret["password"],
            dbname=env["DB_NAME"],
            autocommit=True,
            prepare_threshold=None,
            **libpq_tls(env),
        )

    with db(env["DB_PROXY_PORT"]) as conn:

        def write() -> None:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS demo_users "
                "(id int PRIMARY KEY, name text, updated_at timestamptz)"
            )
            conn.execute(
                "INSERT INTO demo_users VALUES (1, 'Ada', now()) ON CONFLICT (id) "
                "DO UPDATE SET updated_at = now()"
            )

        _, ms = _timed(write)
    steps.append(
        {
            "step": "write through RDS Proxy (PgBouncer)",
            "ms": ms,
            "detail": "upsert user 1 on the primary",
        }
    )
    with db(env["DB_READER_PORT"]) as conn:
        row, ms = _timed(
            lambda: conn.execute(
                "SELECT name, inet_server_port() FROM demo_users WHERE id = 1"
            ).fetchone()
        )
    steps.append(
        {
            "step": "read through the reader endpoint",
            "ms": ms,
            "detail": f"{row[0] if row else 'not yet replicated'} from replica on port "
            f"{row[1] if row else '?'}",
        }
    )
    cache = redis.Redis(
        host=env["REDIS_HOST"],
        port=int(env["REDIS_PORT"]),
        password=env["REDIS_AUTH_TOKEN"],
        decode_responses=True,
        **redis_tls(env),
    )
    cache.delete("demo:user:1")
    for attempt in ("first", "second"):

        def cache_aside() -> str:
            cached = cache.get("demo:user:1")
            if cached is not None:
                return "hit"
            with db(env["DB_READER_PORT"]) as conn:
                found = conn.execute("SELECT name FROM demo_users WHERE id = 1").fetchone()
            cache.set("demo:user:1", found[0] if found else "", ex=300)
            return "miss (loaded from the database, cached for 300 s)"

        outcome, ms = _timed(cache_aside)
        steps.append({"step": f"cache-aside read, {attempt} time", "ms": ms, "detail": outcome})
    return steps


@app.command()
def demo(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the steps as JSON.")] = False,
    dashboard: Annotated[
        bool,
        typer.Option(
            "--dashboard",
            help="After the tour, keep a gentle load running in the background and open "
            "the dashboard (until Ctrl-C; `rdsbox down` stops the load too).",
        ),
    ] = False,
) -> None:
    """A short tour of a running sandbox: secret, proxy, reader, cache-aside."""
    from rich.table import Table

    from sandbox.backends import sandbox_env
    from sandbox.cli import render

    steps = run_demo(sandbox_env(options(ctx).state()))
    if as_json:
        print_json(steps)
    else:
        table = Table(title="rdsbox demo", title_justify="left")
        for column in ("step", "ms", "what happened"):
            table.add_column(column)
        for step in steps:
            table.add_row(step["step"], f"{step['ms']:.1f}", step["detail"])
        render.console().print(table)
    if dashboard:
        from sandbox.cli.dashboard import serve, start_demo_load

        sys.stderr.write(f"rdsbox: background load: {start_demo_load(options(ctx))}\n")
        serve(options(ctx), None, open_browser=True)
