"""`rdsbox plan`: the topology `up` would start (from Terraform or the config), and the
Terraform-reading half of `rdsbox up --terraform`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sandbox.cli.app import Options, app, options, print_json
from sandbox.errors import ConfigError

if TYPE_CHECKING:
    from sandbox.config import SandboxConfig
    from sandbox.terraform import TerraformImport

TerraformOpt = Annotated[
    Path | None,
    typer.Option(
        "--terraform",
        help="Terraform directory to read the topology from (replaces --config).",
        file_okay=False,
    ),
]
VarFileOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--var-file",
        help="Extra .tfvars file (repeatable; terraform.tfvars and *.auto.tfvars are read anyway).",
    ),
]


def resolve_config(
    opts: Options, terraform: Path | None, var_files: list[Path] | None, profile: str | None
) -> tuple[SandboxConfig, TerraformImport | None]:
    """The configuration `up` and `plan` use: from Terraform when given, else --config.

    Raises:
        ConfigError: both --config and --terraform, or a bad source.
    """
    from sandbox.config import load_config

    if terraform is None:
        if var_files:
            raise ConfigError("--var-file needs --terraform DIR; add it or drop --var-file")
        config = load_config(opts.config, Path.cwd())
        imported = None
    else:
        if opts.config is not None:
            raise ConfigError(
                "--config and --terraform both given; use one: the Terraform directory "
                "replaces the config file"
            )
        from sandbox.terraform import import_terraform

        imported = import_terraform(terraform, var_files or ())
        config = imported.config
    config = config.with_overrides(port_base=opts.port_base, profile=profile)  # type: ignore[arg-type]
    return config, imported


def warn(imported: TerraformImport | None) -> None:
    """Print the import's warnings on stderr."""
    if imported is None:
        return
    for line in imported.warnings:
        sys.stderr.write(f"rdsbox: warning: {line}\n")


@app.command()
def plan(
    ctx: typer.Context,
    terraform: TerraformOpt = None,
    var_files: VarFileOpt = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Timing profile: fast or aws.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the topology `rdsbox up` would start, and what of the Terraform it ignores.

    Starts nothing. With --terraform DIR the configuration comes from the Terraform
    resources (aws_db_instance, aws_db_proxy, aws_elasticache_replication_group,
    aws_secretsmanager_secret); without, from --config or ./rdsbox.yaml."""
    from sandbox.topology import Topology

    config, imported = resolve_config(options(ctx), terraform, var_files, profile)
    components = Topology(config).planned_components()
    document: dict[str, Any] = {
        "source": "terraform" if imported else "config",
        "files": imported.files if imported else [],
        "config": config.model_dump(mode="json"),
        "components": components,
        "ignored": [i.as_dict() for i in imported.ignored] if imported else [],
        "warnings": imported.warnings if imported else [],
        "tls_requested": imported.tls_requested if imported else [],
    }
    if as_json:
        print_json(document)
        return
    from sandbox.cli.render_plan import render_plan

    render_plan(document)
