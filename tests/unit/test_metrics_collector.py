"""The collector samples on an injected clock, survives slow and failing samplers, pauses
once when the store cannot be written and resumes once, and keeps a bounded history."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.metrics import MetricsStore, Sample
from sandbox.metrics.collector import EVENT_SOURCE, Collector
from sandbox.metrics.store import MetricsStoreError
from sandbox.supervisor.events import EventLog, read_events


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Constant:
    """A sampler that reports one value of one metric."""

    def __init__(self, name: str, value: float = 1.0) -> None:
        self.name = name
        self.value = value
        self.closed = False

    def sample(self, now: float) -> list[Sample]:
        return [Sample(now, self.name, "DatabaseConnections", self.value)]

    def close(self) -> None:
        self.closed = True


class Broken(Constant):
    def sample(self, now: float) -> list[Sample]:
        raise RuntimeError("the server answered nonsense")


class Hung(Constant):
    """Blocks until released, like a sampler talking to a SIGSTOPped server."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.release = threading.Event()

    def sample(self, now: float) -> list[Sample]:
        self.release.wait(10)
        return super().sample(now)


class FillableStore(MetricsStore):
    """A real store whose disk can be declared full."""

    full = False

    def write(self, samples: object) -> int:
        if self.full:
            raise MetricsStoreError(f"cannot write the metrics store {self.path}: disk is full")
        return super().write(samples)  # type: ignore[arg-type]


def collector_with(
    tmp_path: Path, samplers: list[Constant], clock: FakeClock, store: MetricsStore | None = None
) -> tuple[Collector, EventLog]:
    events = EventLog(tmp_path / "events.jsonl", clock)
    the_store = store or MetricsStore(tmp_path / "metrics.db")
    return Collector(samplers, lambda: the_store, events, 0.2, clock), events


def test_samples_carry_the_injected_clock_and_a_failing_sampler_is_skipped(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    collector, _ = collector_with(tmp_path, [Constant("a"), Broken("b"), Constant("c")], clock)
    assert collector.cycle() == 2
    clock.now += 1
    assert collector.cycle() == 2
    collector.stop()
    stored = MetricsStore(tmp_path / "metrics.db").query()
    assert [(s.ts, s.source) for s in stored] == [
        (1000.0, "a"),
        (1000.0, "c"),
        (1001.0, "a"),
        (1001.0, "c"),
    ]
    assert all(s.closed for s in collector.samplers)  # type: ignore[attr-defined]


def test_a_hung_sampler_delays_only_itself(tmp_path: Path) -> None:
    clock = FakeClock()
    hung = Hung("frozen")
    collector, _ = collector_with(tmp_path, [Constant("fine"), hung], clock)
    assert collector.cycle() == 1  # the healthy one is written; the hung one is waited for
    clock.now += 1
    assert collector.cycle() == 1  # not asked again while busy
    hung.release.set()
    clock.now += 1
    collector._busy[1].result(timeout=5)
    # Its late answer (stamped when it was asked) is written with this cycle, and it is
    # asked again: the server answers once more.
    assert collector.cycle() == 3
    stamps = [(s.ts, s.source) for s in MetricsStore(tmp_path / "metrics.db").query()]
    frozen = [ts for ts, source in stamps if source == "frozen"]
    assert frozen == [1000.0, 1002.0]  # nothing at 1001: it was busy then
    collector.stop()


def test_a_full_store_pauses_once_and_resumes_once(tmp_path: Path) -> None:
    clock = FakeClock()
    store = FillableStore(tmp_path / "metrics.db")
    collector, events = collector_with(tmp_path, [Constant("a")], clock, store)
    assert collector.cycle() == 1
    store.full = True
    for _ in range(3):
        clock.now += 1
        assert collector.cycle() == 0
        assert collector.paused
    store.full = False
    clock.now += 1
    assert collector.cycle() == 1 and not collector.paused
    messages = [e.message for e in read_events(events.path) if e.source == EVENT_SOURCE]
    assert len(messages) == 2
    assert messages[0].startswith("Metrics collection paused: ") and "disk is full" in messages[0]
    assert messages[1] == "Metrics collection resumed; samples of the last 3 s were dropped."
    assert len(store.query()) == 2
    collector.stop()


def test_old_samples_are_deleted(tmp_path: Path) -> None:
    clock = FakeClock()
    events = EventLog(tmp_path / "events.jsonl", clock)
    store = MetricsStore(tmp_path / "metrics.db")
    collector = Collector([Constant("a")], lambda: store, events, 1.0, clock, retention_s=3600)
    store.write([Sample(clock.now - 7200, "a", "DatabaseConnections", 9)])  # two hours old
    collector.cycle()
    assert [s.ts for s in store.query()] == [clock.now]
    collector.stop()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a disk that really fills up (needs root)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_disk_pauses_and_freeing_space_resumes(tiny_disk: Path) -> None:
    clock = FakeClock()
    wide = [Constant(f"node-{i:03d}-" + "x" * 200) for i in range(50)]
    events = EventLog(tiny_disk.parent / "events.jsonl", clock)
    collector = Collector(wide, lambda: MetricsStore(tiny_disk / "metrics.db"), events, 0.2, clock)
    filler = tiny_disk / "filler"
    filler.write_bytes(b"\0" * 96 * 1024)
    for _ in range(200):  # ~14 KiB per cycle: the disk is full well before this ends
        clock.now += 1
        if collector.cycle() == 0:
            break
    assert collector.paused
    clock.now += 1
    collector.cycle()  # still full: no second pause event
    filler.unlink()
    clock.now += 1
    assert collector.cycle() == len(wide)
    assert not collector.paused
    messages = [e.message for e in read_events(events.path)]
    assert len(messages) == 2, messages
    assert "full" in messages[0] and "resumed" in messages[1]
    collector.stop()
