"""Map ``aws_elasticache_replication_group`` and the Secrets Manager secret (with its
version's ``jsonencode`` of the credentials) onto the config keys."""

from __future__ import annotations

import json
from typing import Any

from sandbox.terraform.collect import Collector, convert
from sandbox.terraform.expr import Json, Unknown
from sandbox.terraform.map_database import live, refers_to
from sandbox.terraform.parse import Block, TerraformError


def map_cache(c: Collector) -> None:
    """Map the replication group; without one the sandbox keeps its default cache."""
    groups = live(c, c.resolver.module.resources("aws_elasticache_replication_group"))
    if not groups:
        c.warnings.append(
            f"{c.resolver.module.root}: no aws_elasticache_replication_group; the sandbox "
            "runs its default cache (3 nodes with automatic failover)"
        )
        return
    group = groups[0]
    if len(groups) > 1:
        raise TerraformError(
            f"{groups[1].where}: a second replication group ({groups[1].address}); rdsbox "
            f"emulates one ({group.address}): import the other from its own directory"
        )
    c.resource(group, "cache")
    engine = c.value(group, "engine")
    if engine not in (None, "redis", "valkey"):
        raise TerraformError(
            f"{c.where(group, 'engine')}: {group.address}.engine {engine!r} is not "
            'supported; rdsbox emulates Redis: use engine = "redis"'
        )
    shards = convert(c.value(group, "num_node_groups"), int)
    if isinstance(shards, int) and shards > 1:
        raise TerraformError(
            f"{c.where(group, 'num_node_groups')}: {group.address} has {shards} shards "
            "(cluster mode); rdsbox emulates one shard with replicas: set num_node_groups = 1"
        )
    c.take(group, "replication_group_id", "cache")
    c.take(group, "automatic_failover_enabled", "cache", kind=bool)
    c.take(group, "transit_encryption_enabled", "cache", kind=bool)
    c.take(group, "node_type", "cache")
    section = c.data.setdefault("cache", {})
    section.setdefault("automatic_failover_enabled", False)  # Terraform's defaults
    if c.take(group, "num_cache_clusters", "cache", kind=int) is None:
        replicas = convert(c.value(group, "replicas_per_node_group"), int)
        nodes = replicas + 1 if isinstance(replicas, int) else 1
        c.set("cache", "num_cache_clusters", nodes, group, "replicas_per_node_group")
    token = c.value(group, "auth_token")
    if isinstance(token, Unknown):
        c.unknown(group, "auth_token", token, "the sandbox generates a token")
    elif token is not None:
        c.redis_auth_token = c.secret_text(group, "auth_token", token, (16, 128))


def map_secret(c: Collector) -> None:
    """Map the secret that holds the database credentials, and check its version."""
    secrets = live(c, c.resolver.module.resources("aws_secretsmanager_secret"))
    versions = live(c, c.resolver.module.resources("aws_secretsmanager_secret_version"))
    chosen: Block | None = None
    for secret in secrets:
        name = c.resolver.attribute(secret, "name")
        for version in versions:
            if refers_to(c.resolver.attribute(version, "secret_id"), secret, name):
                chosen = chosen or secret
                if secret is chosen:
                    _version(c, version)
    if chosen is None and len(secrets) == 1:
        chosen = secrets[0]
    if chosen is None:
        return
    c.resource(chosen, "secret")
    if c.take(chosen, "name", "secret") is None and "name_prefix" in chosen.attributes:
        prefix = c.value(chosen, "name_prefix")
        if isinstance(prefix, str):
            c.set("secret", "name", prefix.rstrip("-_/") or prefix, chosen, "name_prefix")


def _version(c: Collector, version: Block) -> None:
    c.resource(version)
    c.value(version, "secret_id")
    raw = c.value(version, "secret_string")
    fields = _fields(raw)
    if fields is None:
        c.warnings.append(
            f"{c.where(version, 'secret_string')}: {version.address}.secret_string is not a "
            "jsonencode({...}) of the credentials; the sandbox writes its own secret value"
        )
        return
    username = fields.get("username")
    expected = c.data.get("database", {}).get("username")
    if isinstance(username, str) and expected is not None and username != expected:
        raise TerraformError(
            f"{c.where(version, 'secret_string')}: the secret's username {username!r} differs "
            f"from the DB master user {expected!r}; the sandbox's secret holds the master "
            "user: use the same name (e.g. aws_db_instance.NAME.username)"
        )
    password = fields.get("password")
    if isinstance(password, Unknown) or password is None:
        return
    if c.db_password is not None and password != c.db_password:
        raise TerraformError(
            f"{c.where(version, 'secret_string')}: the secret's password differs from the DB "
            "instance's; the sandbox uses one password: reference the same variable in both"
        )
    c.db_password = c.secret_text(version, "secret_string", password, (8, 128))


def _fields(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, Json) and isinstance(raw.value, dict):
        return dict(raw.value)
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
    return None
