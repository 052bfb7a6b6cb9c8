"""Generated passwords and tokens of one sandbox, kept in a 0600 file in the state dir.

Secrets Manager (moto) keeps the secret in memory only, so the state dir holds the source
of truth that survives ``down``/``up``: the data directories hold SCRAM verifiers of these
very passwords.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sandbox.privileges import write_private


def new_password() -> str:
    """A fresh random password."""
    # URL-safe, no quoting trouble in libpq conninfo strings, config files or shells.
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Credentials:
    """Every secret value of a sandbox."""

    db_password: str
    replication_password: str
    redis_auth_token: str
    control_token: str

    @classmethod
    def generate(cls) -> Credentials:
        """Fresh random values."""
        return cls(new_password(), new_password(), new_password(), new_password())

    @classmethod
    def load_or_create(cls, path: Path) -> Credentials:
        """Reuse the stored values (the data dirs depend on them) or create and store new ones."""
        if path.exists():
            data = json.loads(path.read_text())
            return cls(**{key: str(data[key]) for key in cls.__dataclass_fields__})
        creds = cls.generate()
        creds.save(path)
        return creds

    def save(self, path: Path) -> None:
        """Write the values to ``path`` (0600)."""
        write_private(path, json.dumps(asdict(self), indent=2))

    @classmethod
    def seed(
        cls, path: Path, db_password: str | None = None, redis_auth_token: str | None = None
    ) -> list[str]:
        """Fix values a new sandbox must use (e.g. from Terraform); the rest are generated.

        An existing sandbox keeps its stored values (its data dirs depend on them); returns
        the names of the given values it keeps differently."""
        offered = {"db_password": db_password, "redis_auth_token": redis_auth_token}
        given = {name: value for name, value in offered.items() if value is not None}
        if path.exists():
            stored = asdict(cls.load_or_create(path))
            return [name for name, value in given.items() if stored[name] != value]
        creds = replace(cls.generate(), **given)
        creds.save(path)
        return []

    def secret_values(self) -> list[str]:
        """All values that must never appear in logs or output (only `rdsbox env` prints)."""
        return [
            self.db_password,
            self.replication_password,
            self.redis_auth_token,
            self.control_token,
        ]
