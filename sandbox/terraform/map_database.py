"""Map ``aws_db_instance`` (primary and read replicas), its parameter group and
``aws_db_proxy`` with its default target group and target onto the config keys."""

from __future__ import annotations

import re
from typing import Any

from sandbox.terraform.collect import Collector, Ignored, Origin
from sandbox.terraform.expr import Unknown
from sandbox.terraform.parse import Block, TerraformError

_PRIMARY_KEYS = {
    "identifier": str,
    "engine_version": str,
    "instance_class": str,
    "multi_az": bool,
    "username": str,
    "db_name": str,
}
_POOL_KEYS = (
    "max_connections_percent",
    "max_idle_connections_percent",
    "connection_borrow_timeout",
)


def refers_to(value: Any, block: Block, known_name: Any) -> bool:
    """Whether ``value`` names ``block``: its known name, or one of its computed attributes."""
    if isinstance(value, Unknown):
        return value.source == block.address
    return value is not None and value == known_name


def live(collector: Collector, blocks: list[Block]) -> list[Block]:
    """Blocks that make at least one instance; ``count = 0`` ones are noted as ignored."""
    alive = []
    for block in blocks:
        if collector.resolver.count(block) == 0:
            collector.notes.append(Ignored(block.where, block.address, None, "count is 0"))
            collector.used.add((block.address, "count"))
        else:
            alive.append(block)
    return alive


def map_database(c: Collector) -> Block:
    """Map the primary instance and its replicas; return the primary."""
    instances = live(c, c.resolver.module.resources("aws_db_instance"))
    primaries = [b for b in instances if "replicate_source_db" not in b.attributes]
    if not primaries:
        raise TerraformError(
            f"{c.resolver.module.root}: no primary aws_db_instance (one without "
            "replicate_source_db); rdsbox needs one PostgreSQL instance to emulate"
        )
    primary = primaries[0]
    if len(primaries) > 1:
        raise TerraformError(
            f"{primaries[1].where}: a second primary DB instance ({primaries[1].address}); "
            f"rdsbox emulates one instance ({primary.address}) with its read replicas: "
            "import the other one from its own directory"
        )
    if c.resolver.count(primary) > 1:
        raise TerraformError(
            f"{c.where(primary, 'count')}: {primary.address} makes several primaries; "
            "rdsbox emulates one: set count to 1 (read replicas use replicate_source_db)"
        )
    c.resource(primary, "database")
    c.used.add((primary.address, "count"))
    engine = c.value(primary, "engine")
    if engine not in (None, "postgres"):
        raise TerraformError(
            f"{c.where(primary, 'engine')}: {primary.address}.engine {engine!r} is not "
            'supported; rdsbox emulates RDS for PostgreSQL: use engine = "postgres"'
        )
    for name, kind in _PRIMARY_KEYS.items():
        c.take(primary, name, "database", kind=kind)
    if "identifier" not in c.data.get("database", {}) and "identifier" not in primary.attributes:
        c.set("database", "identifier", primary.labels[1].replace("_", "-"), primary, "identifier")
        c.warnings.append(
            f"{primary.where}: {primary.address} has no identifier (AWS would generate one); "
            f"the sandbox names it {c.data['database']['identifier']}"
        )
    c.data.setdefault("database", {}).setdefault("multi_az", False)  # Terraform's default
    _password(c, primary)
    _parameter_group(c, primary)
    _replicas(c, primary, instances)
    return primary


def _password(c: Collector, primary: Block) -> None:
    if c.value(primary, "manage_master_user_password") is True:
        return  # RDS generates the password and keeps it in a managed secret; so do we
    password = c.value(primary, "password")
    if password is None or isinstance(password, Unknown):
        # Decided at the end: the secret's version may still give the password.
        reason = password.reason if password is not None else "not set"
        c.password_unknown = (
            f"{c.where(primary, 'password')}: {primary.address}.password is unknown "
            f"({reason}); the sandbox generates a password (clients read it from the secret)"
        )
    else:
        c.db_password = c.secret_text(primary, "password", password, (8, 128))


def _parameter_group(c: Collector, primary: Block) -> None:
    wanted = c.value(primary, "parameter_group_name")
    if wanted is None:
        return
    for group in c.resolver.module.resources("aws_db_parameter_group"):
        if not refers_to(wanted, group, c.resolver.attribute(group, "name")):
            continue
        c.resource(group)
        c.value(group, "name")
        c.value(group, "family")
        for parameter in group.nested("parameter"):
            name = c.resolver.attribute(parameter, "name")
            value = c.resolver.attribute(parameter, "value")
            if name == "max_connections" and re.fullmatch(r"\d+", str(value)):
                c.data.setdefault("database", {})["max_connections"] = int(str(value))
                c.origins[("database", "max_connections")] = Origin(
                    parameter.where, f"{group.address} parameter max_connections"
                )
            else:
                reason = (
                    "max_connections is mapped only from a plain number"
                    if name == "max_connections"
                    else "parameter not emulated"
                )
                c.notes.append(Ignored(parameter.where, group.address, f"parameter {name}", reason))
        c.used.add((group.address, "parameter"))
        return
    c.warnings.append(
        f"{c.where(primary, 'parameter_group_name')}: parameter group {wanted!r} is not "
        "declared here; max_connections follows instance_class"
    )


def _replicas(c: Collector, primary: Block, instances: list[Block]) -> None:
    identifier = c.data.get("database", {}).get("identifier")
    count = 0
    for replica in instances:
        if replica is primary:
            continue
        source = c.value(replica, "replicate_source_db")
        if not refers_to(source, primary, identifier):
            shown = source.reason if isinstance(source, Unknown) else repr(source)
            raise TerraformError(
                f"{c.where(replica, 'replicate_source_db')}: {replica.address} replicates "
                f"{shown}, not the primary {primary.address}; rdsbox emulates replicas of "
                "the primary only (no cascading or cross-directory replicas)"
            )
        c.resource(replica)
        c.used.add((replica.address, "count"))
        c.notes.append(
            Ignored(
                c.where(replica, "identifier"),
                replica.address,
                "identifier",
                f"replicas are named {identifier}-replica-N",
            )
        )
        c.used.add((replica.address, "identifier"))
        count += c.resolver.count(replica)
    c.data.setdefault("database", {})["read_replicas"] = count
    first = next((b for b in instances if b is not primary), primary)
    c.origins[("database", "read_replicas")] = Origin(
        c.where(first, "count"), f"{first.address}.count"
    )


def map_proxy(c: Collector, primary: Block) -> None:
    """Map the proxy, or turn it off when the configuration has none."""
    proxies = live(c, c.resolver.module.resources("aws_db_proxy"))
    if not proxies:
        c.data.setdefault("proxy", {})["enabled"] = False
        return
    proxy = proxies[0]
    if len(proxies) > 1:
        raise TerraformError(
            f"{proxies[1].where}: a second aws_db_proxy ({proxies[1].address}); rdsbox "
            f"emulates one proxy ({proxy.address}): import the other from its own directory"
        )
    c.resource(proxy, "proxy")
    family = c.value(proxy, "engine_family")
    if family not in (None, "POSTGRESQL"):
        raise TerraformError(
            f"{c.where(proxy, 'engine_family')}: {proxy.address}.engine_family {family!r} "
            'is not supported; use engine_family = "POSTGRESQL"'
        )
    c.used.add((proxy.address, "auth"))  # the proxy reads the secret, as PgBouncer does here
    name = c.take(proxy, "name", "proxy")
    c.take(proxy, "idle_client_timeout", "proxy", kind=int)
    c.take(proxy, "require_tls", "proxy", kind=bool)
    _target_group(c, proxy, name)
    _targets(c, proxy, name, primary)


def _target_group(c: Collector, proxy: Block, name: Any) -> None:
    for group in c.resolver.module.resources("aws_db_proxy_default_target_group"):
        if not refers_to(c.resolver.attribute(group, "db_proxy_name"), proxy, name):
            continue
        c.resource(group)
        c.value(group, "db_proxy_name")
        c.used.add((group.address, "connection_pool_config"))
        for pool in group.nested("connection_pool_config"):
            for key in _POOL_KEYS:
                c.take(pool, key, "proxy", kind=int)
            c.note_unused(pool, group.address)


def _targets(c: Collector, proxy: Block, name: Any, primary: Block) -> None:
    identifier = c.data.get("database", {}).get("identifier")
    found = False
    for target in c.resolver.module.resources("aws_db_proxy_target"):
        if not refers_to(c.resolver.attribute(target, "db_proxy_name"), proxy, name):
            continue
        c.resource(target)
        for key in ("db_proxy_name", "target_group_name"):
            c.value(target, key)
        if "db_cluster_identifier" in target.attributes:
            raise TerraformError(
                f"{c.where(target, 'db_cluster_identifier')}: {target.address} targets an "
                "Aurora cluster; rdsbox emulates a proxy in front of an aws_db_instance: "
                "use db_instance_identifier"
            )
        instance = c.value(target, "db_instance_identifier")
        if not refers_to(instance, primary, identifier):
            raise TerraformError(
                f"{c.where(target, 'db_instance_identifier')}: {target.address} targets "
                f"{instance!r}, not the primary {primary.address}; point it at "
                f"{primary.address}.identifier"
            )
        found = True
    if not found:
        c.warnings.append(
            f"{proxy.where}: {proxy.address} has no aws_db_proxy_target; the sandbox "
            f"connects it to {primary.address} anyway"
        )
