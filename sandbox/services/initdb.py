"""How rdsbox runs initdb: one place, shared by the template cache, the fallback path and
the startup benchmark's floor."""

from __future__ import annotations

from pathlib import Path

from sandbox.binaries import Binaries

#: 1 MB WAL segments instead of 16 MB: every new node copies the initial segment, and
#: writing fresh pages is the dominant cost of a cold start on a small VM.
WAL_SEGMENT_MB = 1


def initdb_command(binaries: Binaries, pgdata: Path, username: str, pwfile: Path) -> list[str]:
    """initdb with SCRAM for every connection, the master user and its password file."""
    return [
        str(binaries["initdb"]),
        "-D",
        str(pgdata),
        "-U",
        username,
        f"--pwfile={pwfile}",
        "-A",
        "scram-sha-256",
        "-E",
        "UTF8",
        "--no-locale",
        "-N",
        f"--wal-segsize={WAL_SEGMENT_MB}",
    ]
