"""``rotate-secret``: the four steps of a Secrets Manager single-user rotation, as AWS's
rotation function for RDS PostgreSQL runs them, against the sandbox.

1. ``createSecret``: a new version with a new password, staged ``AWSPENDING``;
2. ``setSecret``: the database takes the password (ALTER ROLE on the primary) and so does
   the proxy (its auth file gets the new verifier);
3. ``testSecret``: a direct login with the new password works;
4. ``finishSecret``: ``AWSCURRENT`` moves to the new version (the old one becomes
   ``AWSPREVIOUS``).

Step 2 runs while the proxy is PAUSEd (it waits for running transactions, then holds new
queries for the few tens of milliseconds they take): PgBouncer logs in to the server with
the SCRAM keys of the latest client login, so no server login may happen between the
database's change and the proxy's; the proxy resumes as soon as a login with the new
password went through (see ``PgBouncer.accept_password``).
Established client connections to the proxy never notice. A client that opens a new
connection with the password it fetched before the rotation is refused, as RDS Proxy
refuses it: applications fetch the secret again when a login fails (the caching pattern
AWS recommends).
"""

from __future__ import annotations

import json
import uuid

import psycopg

from sandbox.credentials import new_password
from sandbox.errors import ComponentFailedError
from sandbox.services.moto import SecretsApiError
from sandbox.supervisor.cluster import Cluster
from sandbox.supervisor.db_actions import DatabaseActions
from sandbox.supervisor.events import EventLog
from sandbox.tls import libpq_options


class SecretRotation:
    """Rotates the database secret; each step is an event."""

    def __init__(self, cluster: Cluster, db: DatabaseActions, events: EventLog) -> None:
        self.cluster = cluster
        self.db = db
        self.events = events

    def rotate(self) -> str:
        """Run the four steps; return what was done."""
        cluster = self.cluster
        name = cluster.config.secret.name
        if cluster.secret_arn is None:
            raise ComponentFailedError("the secret does not exist yet; wait for `rdsbox up`")
        token = str(uuid.uuid4())
        password = new_password()
        try:
            previous = self._current_version(name)
            self._create(name, token, password)
            paused = self.db.pause_proxy()
            try:
                paused = self._set(password, paused)
                self._test(password)
                self._finish(name, token, previous)
            finally:
                if paused and cluster.proxy is not None:
                    cluster.proxy.resume()
        except (SecretsApiError, psycopg.Error) as exc:
            self.events.record(name, "notification", f"Rotation failed: {exc}")
            raise ComponentFailedError(f"secret rotation failed: {exc}") from exc
        return f"rotated {name}: version {token} is AWSCURRENT"

    def _step(self, step: str, message: str) -> None:
        self.events.record(self.cluster.config.secret.name, "rotation", f"{step}: {message}")

    def _current_version(self, name: str) -> str:
        answer = self.cluster.moto.call("DescribeSecret", {"SecretId": name})
        stages: dict[str, list[str]] = answer.get("VersionIdsToStages", {})
        return next(version for version, names in stages.items() if "AWSCURRENT" in names)

    def _create(self, name: str, token: str, password: str) -> None:
        value = {**self.cluster.secret_value(), "password": password}
        self.cluster.moto.call(
            "PutSecretValue",
            {
                "SecretId": name,
                "ClientRequestToken": token,
                "SecretString": json.dumps(value),
                "VersionStages": ["AWSPENDING"],
            },
        )
        self._step("createSecret", "new version stored as AWSPENDING.")

    def _set(self, password: str, paused: bool) -> bool:
        """Returns whether the proxy is still paused (it resumes once it took the password)."""
        cluster = self.cluster
        cluster.primary.set_master_password(password)
        cluster.set_db_password(password)
        if cluster.proxy is not None:
            verifier = cluster.primary.master_verifier()
            paused = cluster.proxy.accept_password(password, verifier, paused)
        self._step("setSecret", f"{cluster.primary.name} and the proxy take the new password.")
        return paused

    def _test(self, password: str) -> None:
        primary = self.cluster.primary
        with psycopg.connect(
            host="127.0.0.1",
            port=primary.port,
            user=primary.settings.username,
            password=password,
            dbname=primary.settings.db_name,
            connect_timeout=5,
            **libpq_options(primary.settings.tls),
        ) as conn:
            conn.execute("SELECT 1")
        self._step("testSecret", "logged in with the new password.")

    def _finish(self, name: str, token: str, previous: str) -> None:
        cluster = self.cluster
        cluster.moto.call(
            "UpdateSecretVersionStage",
            {
                "SecretId": name,
                "VersionStage": "AWSCURRENT",
                "MoveToVersionId": token,
                "RemoveFromVersionId": previous,
            },
        )
        cluster.moto.call(
            "UpdateSecretVersionStage",
            {"SecretId": name, "VersionStage": "AWSPENDING", "RemoveFromVersionId": token},
        )
        self._step("finishSecret", "the new version is AWSCURRENT; the old one AWSPREVIOUS.")
