"""The one root exception type of rdsbox and the subclasses that say what went wrong.

Every error a user can cause (bad config, missing binary, busy port, unknown name) is an
``RdsboxError``: the CLI prints its message as one line and exits with ``exit_code`` (2),
never a traceback. Messages name the thing and say what to do.
"""

from __future__ import annotations


class RdsboxError(Exception):
    """Root of every error rdsbox reports to its user."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(RdsboxError):
    """A configuration value, file or option is wrong."""


class BinaryNotFoundError(RdsboxError):
    """A server binary (postgres, pgbouncer, redis-server, ...) could not be found."""


class PortBusyError(RdsboxError):
    """A port the sandbox needs is already taken by another program."""


class StateDirError(RdsboxError):
    """The state directory cannot be used (unreachable, locked, too long a path)."""


class ComponentFailedError(RdsboxError):
    """A managed server died or did not become ready in time."""


class NotRunningError(RdsboxError):
    """The command needs a running sandbox and there is none in this state dir."""


class UnknownNameError(RdsboxError):
    """A component, endpoint or fault target name that does not exist."""


class ControlApiError(RdsboxError):
    """The supervisor's control API refused or failed a request."""


class BackendUnavailableError(RdsboxError):
    """The chosen backend cannot run here (no Docker engine, a missing extra or plugin)."""
