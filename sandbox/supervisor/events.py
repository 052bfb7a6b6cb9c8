"""RDS-style events: what the control plane did, with a timestamp, kept in the state dir.

One JSON object per line in ``events.jsonl``: ``time`` (ISO 8601, UTC), ``source``
(a component or endpoint name), ``category`` (``failover``, ``availability``,
``configuration change``, ``notification``, ``fault``) and an RDS-like ``message``.
The clock is injected so tests (and the simulator) can record on their own time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

Clock = Callable[[], float]


@dataclass(frozen=True)
class Event:
    """One event."""

    time: str
    source: str
    category: str
    message: str

    def line(self) -> str:
        """The human-readable form: time, source, message."""
        return f"{self.time}  {self.source:<28} {self.message}"


class EventLog:
    """Appends events to a JSON-lines file; thread-safe."""

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()

    def record(self, source: str, category: str, message: str) -> Event:
        """Append one event and return it."""
        stamp = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")
        event = Event(stamp.replace("+00:00", "Z"), source, category, message)
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(event)) + "\n")
        return event


def read_events(path: Path) -> list[Event]:
    """Every event recorded so far (none when the file does not exist)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [Event(**json.loads(line)) for line in lines if line.strip()]


def follow_events(path: Path, poll: float = 0.2) -> Iterator[Event]:
    """Yield events as they are appended (from the current end), forever."""
    position = path.stat().st_size if path.exists() else 0
    buffer = ""
    while True:
        if path.exists():
            with open(path, encoding="utf-8") as handle:
                handle.seek(position)
                buffer += handle.read()
                position = handle.tell()
            *complete, buffer = buffer.split("\n")
            for line in complete:
                if line.strip():
                    yield Event(**json.loads(line))
        time.sleep(poll)
