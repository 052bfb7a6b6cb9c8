"""Turn a Terraform directory into a SandboxConfig, with what was ignored and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sandbox.config import SandboxConfig
from sandbox.config.loader import format_validation_error
from sandbox.terraform.collect import Collector, Ignored, Origin
from sandbox.terraform.map_database import map_database, map_proxy
from sandbox.terraform.map_services import map_cache, map_secret
from sandbox.terraform.parse import Block, TerraformError, display, load_module
from sandbox.terraform.resolve import Resolver, variable_files

# Top-level blocks that describe Terraform itself rather than infrastructure.
_QUIET_BLOCKS = ("variable", "locals", "output", "terraform", "provider")


@dataclass(frozen=True)
class TerraformImport:
    """What ``rdsbox plan --terraform`` shows and ``rdsbox up --terraform`` starts."""

    config: SandboxConfig
    ignored: list[Ignored]
    warnings: list[str]
    files: list[str]
    db_password: str | None = None
    redis_auth_token: str | None = None

    @property
    def tls_requested(self) -> list[str]:
        """Config keys that turn TLS on (``plan`` names them; ``up`` starts TLS listeners)."""
        wanted = []
        if self.config.proxy.require_tls:
            wanted.append("proxy.require_tls")
        if self.config.cache.transit_encryption_enabled:
            wanted.append("cache.transit_encryption_enabled")
        return wanted


def import_terraform(
    directory: Path, var_files: Sequence[Path] = (), environ: dict[str, str] | None = None
) -> TerraformImport:
    """Read ``directory``'s ``*.tf`` files (and ``terraform.tfvars``, ``*.auto.tfvars``,
    then ``var_files``) and map the resources rdsbox emulates.

    Raises:
        TerraformError: invalid HCL or a value rdsbox cannot emulate (``FILE:LINE: ...``).
    """
    module = load_module(directory)
    files = variable_files(directory, var_files)
    resolver = (
        Resolver(module, files) if environ is None else Resolver(module, files, environ=environ)
    )
    collector = Collector(resolver)
    primary = map_database(collector)
    map_proxy(collector, primary)
    map_cache(collector)
    map_secret(collector)
    warnings = list(collector.warnings)
    if collector.db_password is None and collector.password_unknown:
        warnings.append(collector.password_unknown)
    return TerraformImport(
        config=_validate(collector.data, collector.origins),
        ignored=sorted(
            collector.notes + _unused(collector), key=lambda i: (i.where.file, i.where.line)
        ),
        warnings=warnings,
        files=[display(p) for p in (*sorted(directory.glob("*.tf")), *files)],
        db_password=collector.db_password,
        redis_auth_token=collector.redis_auth_token,
    )


def _unused(c: Collector) -> list[Ignored]:
    """Every resource that was not mapped, and every attribute of a mapped one not used."""
    ignored: list[Ignored] = []
    for block in c.resolver.module.blocks:
        if block.type in _QUIET_BLOCKS:
            continue
        if block.address not in c.mapped:
            if not any(n.address == block.address and n.attribute is None for n in c.notes):
                ignored.append(Ignored(block.where, block.address, None, _why(block)))
            continue
        for name, attr in block.attributes.items():
            if (block.address, name) not in c.used:
                ignored.append(Ignored(attr.where, block.address, name))
        for nested in block.blocks:
            if (block.address, nested.type) not in c.used:
                ignored.append(Ignored(nested.where, block.address, f"{nested.type} block"))
    return ignored


def _why(block: Block) -> str:
    if block.type == "data":
        return "data sources are read only by terraform"
    if block.type == "module":
        return "modules are not followed; point --terraform at the module's directory"
    if block.labels and block.labels[0].startswith(("aws_db", "aws_elasticache", "aws_secrets")):
        return "not emulated, or not connected to the mapped resources"
    return "no local counterpart"


def _validate(data: dict[str, Any], origins: dict[tuple[str, ...], Origin]) -> SandboxConfig:
    """Validate the mapping; name the Terraform file and line of the first bad value."""
    try:
        return SandboxConfig.model_validate(data)
    except ValidationError as exc:
        loc = tuple(str(part) for part in exc.errors()[0]["loc"])
        for length in range(len(loc), 0, -1):
            origin = origins.get(loc[:length])
            if origin is not None:
                source = f"{origin.where}: {origin.name}"
                raise TerraformError(format_validation_error(exc, source)) from None
        raise TerraformError(format_validation_error(exc, "terraform")) from None
