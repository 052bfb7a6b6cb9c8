"""Invalid HCL and values rdsbox cannot emulate: one line naming FILE:LINE, exit status 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sandbox.terraform import TerraformError, import_terraform
from tests.support import RDSBOX

PRIMARY = """
resource "aws_db_instance" "db" {
  identifier     = "app-db"
  engine         = "postgres"
  instance_class = "db.t3.micro"
  username       = "dbadmin"
  password       = "a-long-password"
}
"""


def _write(folder: Path, text: str, name: str = "main.tf") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("extra", "line", "wanted"),
    [
        ('resource "aws_db_instance" "x" {\n  engine = \n}\n', 11, "invalid HCL"),
        (
            'resource "aws_elasticache_replication_group" "c" {\n'
            '  replication_group_id = "c"\n  engine = "memcached"\n}\n',
            12,
            'use engine = "redis"',
        ),
        (
            'resource "aws_db_instance" "r" {\n  count = 20\n'
            "  replicate_source_db = aws_db_instance.db.identifier\n}\n",
            11,
            "database.read_replicas: 20 is out of range; allowed: 0..15",
        ),
        (
            'resource "aws_db_instance" "r" {\n  replicate_source_db = "other-db"\n}\n',
            11,
            "rdsbox emulates replicas of the primary only",
        ),
        (
            'resource "aws_elasticache_replication_group" "c" {\n'
            '  replication_group_id = "c"\n  num_node_groups = 2\n}\n',
            12,
            "set num_node_groups = 1",
        ),
        (
            'resource "aws_elasticache_replication_group" "c" {\n'
            '  replication_group_id = "c"\n  automatic_failover_enabled = true\n}\n',
            10,
            "requires cache.num_cache_clusters >= 2",
        ),
        (
            'resource "aws_db_proxy" "p" {\n  name = "p"\n  engine_family = "MYSQL"\n}\n',
            12,
            'use engine_family = "POSTGRESQL"',
        ),
        (
            'resource "aws_elasticache_replication_group" "c" {\n'
            "  replication_group_id = var.missing\n}\n",
            11,
            "var.missing is not declared",
        ),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, extra: str, line: int, wanted: str) -> None:
    folder = _write(tmp_path / "tf", PRIMARY + "\n" + extra)
    with pytest.raises(TerraformError) as caught:
        import_terraform(folder, environ={})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{folder / 'main.tf'}:{line}:"), message
    assert wanted in message


def test_engine_other_than_postgres(tmp_path: Path) -> None:
    folder = _write(tmp_path / "tf", PRIMARY.replace('"postgres"', '"mysql"'))
    with pytest.raises(TerraformError, match=r"main\.tf:4: .*engine 'mysql' is not supported"):
        import_terraform(folder, environ={})


def test_password_the_sandbox_cannot_use(tmp_path: Path) -> None:
    folder = _write(tmp_path / "tf", PRIMARY.replace("a-long-password", "short"))
    with pytest.raises(TerraformError, match=r"main\.tf:7: .*password is not usable"):
        import_terraform(folder, environ={})


def test_no_primary_instance(tmp_path: Path) -> None:
    folder = _write(tmp_path / "tf", 'resource "aws_s3_bucket" "b" {}\n')
    with pytest.raises(TerraformError, match="no primary aws_db_instance"):
        import_terraform(folder, environ={})


def _rdsbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RDSBOX, *args], capture_output=True, text=True, check=False)


def test_cli_bad_hcl_is_one_line_exit_2(tmp_path: Path) -> None:
    folder = _write(tmp_path / "tf", PRIMARY + 'resource "x" "y" {\n  a = [1,\n}\n')
    result = _rdsbox("plan", "--terraform", str(folder))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"rdsbox: error: {folder / 'main.tf'}:11: invalid HCL")


def test_cli_config_and_terraform_together_exit_2(tmp_path: Path) -> None:
    folder = _write(tmp_path / "tf", PRIMARY)
    (tmp_path / "c.yaml").write_text("{}\n")
    result = _rdsbox("--config", str(tmp_path / "c.yaml"), "up", "--terraform", str(folder))
    assert result.returncode == 2
    assert "--config and --terraform both given" in result.stderr


def test_cli_plan_json(tmp_path: Path) -> None:
    import json

    folder = _write(tmp_path / "tf", PRIMARY + 'resource "aws_vpc" "v" {}\n')
    result = _rdsbox("--port-base", "28900", "plan", "--terraform", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["config"]["database"]["identifier"] == "app-db"
    assert plan["config"]["proxy"]["enabled"] is False
    assert [c["name"] for c in plan["components"]][:1] == ["app-db-a"]
    assert {"resource": "aws_vpc.v", "attribute": None}.items() <= plan["ignored"][0].items()
    assert plan["components"][0]["port"] == 28910
