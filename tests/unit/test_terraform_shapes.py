"""Terraform shapes under tests/terraform/ map onto the expected sandbox configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.terraform import import_terraform
from sandbox.topology import Topology

SHAPES = Path(__file__).parents[1] / "terraform"


def _ignored(result: object) -> set[tuple[str, str | None]]:
    return {(i.address, i.attribute) for i in result.ignored}  # type: ignore[attr-defined]


def test_full_shape_maps_every_resource() -> None:
    result = import_terraform(SHAPES / "full", environ={})
    db, proxy, cache = result.config.database, result.config.proxy, result.config.cache
    assert (db.identifier, db.engine_version, db.instance_class) == (
        "app-primary-db",
        "15.5",
        "db.r6g.large",
    )
    assert db.multi_az is True
    assert (db.username, db.db_name) == ("dbadmin", "app_database")
    assert db.read_replicas == 2  # count = var.replica_count, 2 from terraform.tfvars
    assert db.max_connections == 500  # from the parameter group
    assert proxy.enabled and proxy.name == "app-db-proxy"
    assert (
        proxy.max_connections_percent,
        proxy.max_idle_connections_percent,
        proxy.connection_borrow_timeout,
        proxy.idle_client_timeout,
    ) == (80, 40, 60, 1800)
    assert (cache.replication_group_id, cache.num_cache_clusters) == ("app-redis-cluster", 3)
    assert cache.automatic_failover_enabled and not cache.transit_encryption_enabled
    assert result.config.secret.name == "app-db-credentials"
    # The password variable has no value anywhere: generated, with a warning naming the line.
    assert result.db_password is None
    (warning,) = result.warnings
    assert warning.startswith("tests/terraform/full/main.tf:48: aws_db_instance.primary.password")
    assert "generates a password" in warning
    ignored = _ignored(result)
    for expected in [
        ("data.aws_vpc.main", None),
        ("aws_security_group.db", None),
        ("aws_iam_role.proxy", None),
        ("aws_db_instance.primary", "allocated_storage"),
        ("aws_db_instance.primary", "tags"),
        ("aws_db_proxy.main", "role_arn"),
        ("aws_db_parameter_group.pg15", "parameter log_min_duration_statement"),
        (
            "aws_db_proxy_default_target_group.main",
            "connection_pool_config.session_pinning_filters",
        ),
        ("aws_elasticache_replication_group.cache", "at_rest_encryption_enabled"),
    ]:
        assert expected in ignored
    # Mapped attributes are not listed as ignored.
    assert ("aws_db_instance.primary", "instance_class") not in ignored
    assert ("aws_db_proxy.main", "auth block") not in ignored


def test_full_shape_takes_the_password_from_the_environment() -> None:
    result = import_terraform(SHAPES / "full", environ={"TF_VAR_db_password": "s3cret-pass"})
    assert result.db_password == "s3cret-pass"
    assert result.warnings == []


def test_minimal_shape_has_no_proxy_standby_replicas_or_sentinels() -> None:
    result = import_terraform(SHAPES / "minimal", environ={})
    config = result.config
    assert config.database.multi_az is False  # Terraform's default
    assert config.database.read_replicas == 0
    assert config.database.effective_max_connections == 112  # db.t3.micro formula
    assert config.proxy.enabled is False
    assert config.cache.num_cache_clusters == 1
    assert config.cache.automatic_failover_enabled is False
    assert config.secret.name == "app-db-credentials"  # no secret resource: the default
    assert result.db_password == "local-only-pass-1"
    names = [c["name"] for c in Topology(config).planned_components()]
    assert names == ["small-db-a", "small-cache-001", "secrets-manager"]


def test_replicas_tls_shape_with_a_var_file() -> None:
    folder = SHAPES / "replicas_tls"
    result = import_terraform(folder, [folder / "prod.tfvars"], environ={})
    config = result.config
    assert config.database.identifier == "shop-prod-db"  # local + interpolation
    assert config.database.read_replicas == 3  # replicate_source_db = ...main.arn
    assert config.database.multi_az is False
    assert config.proxy.require_tls is True and config.proxy.idle_client_timeout == 900
    assert config.proxy.max_connections_percent == 100  # target group without pool config
    assert config.cache.num_cache_clusters == 2  # replicas_per_node_group = 1
    assert config.cache.transit_encryption_enabled is True
    assert config.secret.name == "shop-prod/db"
    assert result.tls_requested == ["proxy.require_tls", "cache.transit_encryption_enabled"]
    assert result.redis_auth_token == "prod-cache-token-0123456789"
    assert result.db_password is None and result.warnings == []  # managed password: no warning
    replicas = [c for c in Topology(config).planned_components() if c["role"] == "replica"]
    assert len(replicas) == 4  # 3 PostgreSQL replicas and 1 Redis replica


def test_replicas_tls_shape_without_the_token_warns() -> None:
    result = import_terraform(SHAPES / "replicas_tls", environ={})
    (warning,) = result.warnings
    assert "auth_token is unknown" in warning and "generates a token" in warning


@pytest.mark.parametrize("shape", ["full", "minimal", "replicas_tls"])
def test_every_shape_lists_ignored_items_with_a_line(shape: str) -> None:
    result = import_terraform(SHAPES / shape, environ={})
    assert result.ignored
    assert all(i.where.line > 0 and i.where.file.endswith(".tf") for i in result.ignored)
