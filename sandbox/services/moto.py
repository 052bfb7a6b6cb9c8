"""A moto server standing in for AWS Secrets Manager (and any other AWS API a client calls)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

from sandbox.services.base import HOST, ManagedServer

REGION = "us-east-1"
# moto accepts any credentials; these are the conventional dummy values.
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"


class MotoServer(ManagedServer):
    """``python -m moto.server`` on a sandbox port."""

    kind = "moto"

    @property
    def url(self) -> str:
        """Endpoint URL for AWS SDKs (AWS_ENDPOINT_URL)."""
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        """The moto server of this Python environment."""
        return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)]

    def probe(self) -> bool:
        """moto's own API answers."""
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1.0) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def secrets_client(self) -> Any:
        """A boto3 Secrets Manager client bound to this server."""
        import boto3  # slow to import: only where needed

        return boto3.client(
            "secretsmanager",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def put_secret(self, name: str, value: dict[str, Any]) -> str:
        """Create (or update) secret ``name`` with a JSON value; returns its ARN."""
        client = self.secrets_client()
        body = json.dumps(value)
        try:
            arn = client.create_secret(Name=name, SecretString=body)["ARN"]
        except client.exceptions.ResourceExistsException:
            arn = client.put_secret_value(SecretId=name, SecretString=body)["ARN"]
        return str(arn)
