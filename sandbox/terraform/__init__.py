"""Terraform import: map the RDS, RDS Proxy, ElastiCache and Secrets Manager resources of
a Terraform directory onto a sandbox configuration (``rdsbox plan/up --terraform DIR``)."""

from sandbox.terraform.collect import Ignored
from sandbox.terraform.importer import TerraformImport, import_terraform
from sandbox.terraform.parse import TerraformError

__all__ = ["Ignored", "TerraformError", "TerraformImport", "import_terraform"]
