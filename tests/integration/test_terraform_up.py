"""`rdsbox up --terraform DIR` starts the topology the Terraform describes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from sandbox.config import config_from_mapping
from sandbox.topology import Topology
from tests.support import Sandbox

pytestmark = pytest.mark.integration

SHAPES = Path(__file__).parents[1] / "terraform"


def _up(box: Sandbox, folder: Path) -> tuple[dict[str, object], str]:
    result = box.rdsbox("up", "--json", "--terraform", str(folder), config=False, check=True)
    return json.loads(result.stdout), result.stderr


def _planned(status: dict[str, object], box: Sandbox) -> list[tuple[object, ...]]:
    config = config_from_mapping(json.loads((box.state_dir / "config.json").read_text()))
    return [(c["name"], c["kind"], c["role"]) for c in Topology(config).planned_components()]


def test_minimal_shape_with_tls_starts_a_tls_cache(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    folder = tmp_path / "minimal"
    shutil.copytree(SHAPES / "minimal", folder)
    main = folder / "main.tf"
    main.write_text(
        main.read_text().replace(
            "automatic_failover_enabled = false",
            "automatic_failover_enabled = false\n  transit_encryption_enabled = true",
        )
    )
    box = make_sandbox()
    status, stderr = _up(box, folder)
    components = [(c["name"], c["kind"], c["role"]) for c in status["components"]]  # type: ignore[union-attr, index]
    assert components == [
        ("small-db-a", "postgres", "primary"),
        ("small-cache-001", "redis", "primary"),
        ("secrets-manager", "moto", "secrets"),
    ]
    assert components == _planned(status, box)
    assert status["endpoints"]["proxy"] is None  # type: ignore[index]
    # TLS is emulated now: no warning about it.
    assert not [line for line in stderr.splitlines() if "warning" in line and "TLS" in line]
    # The password written in the Terraform is the one the database and the secret use.
    writer = status["endpoints"]["writer"]["port"]  # type: ignore[index]
    with psycopg.connect(
        host="127.0.0.1", port=writer, user="appuser", password="local-only-pass-1", dbname="appdb"
    ) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            "appuser",
            "appdb",
        )
    env = box.env()
    assert env["DB_NAME"] == "appdb"
    # transit_encryption_enabled: a single cache node without Sentinels, on a TLS port.
    assert env["REDIS_TLS"] == "1" and "PGSSLMODE" not in env
    assert box.cache(int(env["REDIS_PORT"]), ssl=True, ssl_ca_certs=env["REDIS_CA_CERT"]).ping()
    box.down("--purge")


def test_full_shape_starts_every_component(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(TF_VAR_db_password="chosen-in-tf-var")
    status, stderr = _up(box, SHAPES / "full")
    components = [(c["name"], c["kind"], c["role"]) for c in status["components"]]  # type: ignore[union-attr, index]
    assert components == _planned(status, box)
    assert len(components) == 12  # 2 Multi-AZ + 2 replicas, proxy, 3 Redis, 3 Sentinels, moto
    assert all(c["healthy"] for c in status["components"])  # type: ignore[union-attr, index]
    assert "warning" not in stderr  # the password came from TF_VAR_db_password
    proxy = status["endpoints"]["proxy"]["port"]  # type: ignore[index]
    with box.db(proxy, password="chosen-in-tf-var") as conn:
        assert conn.execute("SHOW max_connections").fetchone() == ("500",)
    box.down("--purge")
