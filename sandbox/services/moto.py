"""A moto server standing in for AWS Secrets Manager (and any other AWS API a client calls)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from sandbox.services.base import HOST, ManagedServer

REGION = "us-east-1"
# moto accepts any credentials; these are the conventional dummy values.
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"


def secrets_client(env: Mapping[str, str]) -> Any:
    """A boto3 Secrets Manager client configured from `rdsbox env` values, as an
    application's SDK would be."""
    import boto3  # slow to import: only where needed

    return boto3.client(
        "secretsmanager",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


class MotoServer(ManagedServer):
    """``python -m moto.server`` on a sandbox port."""

    kind = "moto"

    @property
    def url(self) -> str:
        """Endpoint URL for AWS SDKs (AWS_ENDPOINT_URL)."""
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        """moto's server of this Python environment (with rdsbox's fix, see moto_server)."""
        return [
            sys.executable,
            "-m",
            "sandbox.services.moto_server",
            "-H",
            HOST,
            "-p",
            str(self.port),
        ]

    def probe(self) -> bool:
        """moto's own API answers."""
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1.0) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One Secrets Manager API call (JSON over HTTP), without boto3.

        boto3 costs about 0.3 s of CPU to import, taken from a cold start's critical
        path; moto routes by the credential scope and does not check signatures."""
        request = urllib.request.Request(
            f"{self.url}/",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"secretsmanager.{action}",
                "Authorization": (
                    f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20240101/{REGION}/"
                    "secretsmanager/aws4_request, SignedHeaders=host, Signature=0"
                ),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            error = json.loads(exc.read() or b"{}")
            raise SecretsApiError(str(error.get("__type", exc.code)), str(error)) from exc

    def put_secret(self, name: str, value: dict[str, Any]) -> str:
        """Create (or update) secret ``name`` with a JSON value; returns its ARN."""
        body = json.dumps(value)
        try:
            answer = self.call("CreateSecret", {"Name": name, "SecretString": body})
        except SecretsApiError as exc:
            if "ResourceExists" not in exc.kind:
                raise
            answer = self.call("PutSecretValue", {"SecretId": name, "SecretString": body})
        return str(answer["ARN"])


class SecretsApiError(RuntimeError):
    """Secrets Manager (moto) answered with an error."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
