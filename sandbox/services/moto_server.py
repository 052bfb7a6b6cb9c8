"""Entry point of the Secrets Manager server: moto's server with one fix applied.

moto 5.x's ``UpdateSecretVersionStage`` moves the ``AWSCURRENT`` label but leaves the
secret's default version behind, so ``GetSecretValue`` without a stage keeps returning the
old value after a rotation's ``finishSecret``. Secrets Manager returns the version labelled
``AWSCURRENT``; the wrapper below makes moto do the same. Run as
``python -m sandbox.services.moto_server -H HOST -p PORT`` (moto.server's options).
"""

from __future__ import annotations

import functools
from typing import Any


def _patch_version_stage_update() -> None:
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage

    @functools.wraps(original)
    def update(self: Any, secret_id: str, version_stage: str, *args: Any, **kwargs: Any) -> Any:
        result = original(self, secret_id, version_stage, *args, **kwargs)
        if version_stage == "AWSCURRENT":
            secret = self.secrets[secret_id]
            current = [v for v, d in secret.versions.items() if "AWSCURRENT" in d["version_stages"]]
            if current:
                secret.set_default_version_id(current[0])
        return result

    SecretsManagerBackend.update_secret_version_stage = update  # type: ignore[method-assign]


def main() -> None:
    """Patch, then hand over to moto's own server main."""
    _patch_version_stage_update()
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()
