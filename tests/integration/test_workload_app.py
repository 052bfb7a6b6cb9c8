"""The reference application's caching strategies and the stale-set race, on real servers.

Each test uses its own table (and so its own cache keys and write-behind queue)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from sandbox.workload.app import CachePolicy, ReferenceApp, seed_users
from sandbox.workload.cache import CacheOps
from sandbox.workload.consistency import AckLog, StalenessChecker
from sandbox.workload.db import User, select_user
from sandbox.workload.endpoints import Endpoints
from sandbox.workload.spec import Fill, Strategy
from sandbox.workload.writebehind import Flusher, measure_loss
from tests.support import Sandbox, wait_for

pytestmark = pytest.mark.integration

MakeApp = Callable[..., ReferenceApp]


@pytest.fixture(scope="module")
def endpoints(sandbox: Sandbox) -> Endpoints:
    return Endpoints.from_env(sandbox.env())


@pytest.fixture
def make_app(endpoints: Endpoints, request: pytest.FixtureRequest) -> Iterator[MakeApp]:
    """Apps on a fresh table named after the test, seeded with 20 users."""
    table = "users_" + request.node.name.split("[")[0].removeprefix("test_")[:40]
    with endpoints.connect_db("writer") as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}".encode())
        seed_users(conn, 20, table)
    made: list[ReferenceApp] = []

    def make(strategy: Strategy, path: str = "writer", **policy: object) -> ReferenceApp:
        app = ReferenceApp.connect(
            endpoints,
            strategy,
            path,  # type: ignore[arg-type]
            policy=CachePolicy(**policy),  # type: ignore[arg-type]
            table=table,
        )
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


def _db_row(app: ReferenceApp, user_id: int) -> tuple[str, int]:
    with app.db.writes() as conn:
        user = select_user(conn, user_id, app.table)
    assert user is not None
    return user.name, user.version


def test_cache_aside_misses_then_hits_and_an_update_invalidates(make_app: MakeApp) -> None:
    app = make_app("cache-aside")
    assert app.cache is not None
    first = app.get_user(3)
    assert first.hit is False and first.user is not None and first.user.name == "user 3"
    assert app.get_user(3).hit is True
    ttl_ms = app.cache.client.pttl(app.cache.key(3))
    assert 54_000 <= ttl_ms <= 66_000  # 60 s +- 10 % jitter
    updated = app.update_user(3, "Ada", "ada@example.com")
    assert updated is not None and updated.version > first.user.version
    assert app.cache.get(3) is None  # invalidated after the commit
    again = app.get_user(3)
    assert again.hit is False and again.user == updated
    assert app.get_user(3).hit is True


def test_write_through_updates_the_cache(make_app: MakeApp) -> None:
    app = make_app("write-through")
    assert app.cache is not None
    assert app.get_user(5).hit is False
    updated = app.update_user(5, "Grace", "grace@example.com")
    assert updated is not None
    entry = app.cache.get(5)
    assert entry is not None and entry.user == updated
    read = app.get_user(5)
    assert read.hit is True and read.user is not None and read.user.name == "Grace"
    assert _db_row(app, 5) == ("Grace", updated.version)


def test_write_behind_queues_then_flushes_idempotently(make_app: MakeApp) -> None:
    app = make_app("write-behind")
    assert app.queue is not None and app.cache is not None
    before = _db_row(app, 7)
    acked = [app.update_user(7, f"v{i}", "x@example.com") for i in range(3)]
    acked.append(app.update_user(8, "eight", "8@example.com"))
    assert all(u is not None for u in acked)
    assert app.queue.backlog() == 4
    assert _db_row(app, 7) == before  # not yet in the database...
    read = app.get_user(7)  # ...but reads see the acknowledged write
    assert read.hit is True and read.user is not None and read.user.name == "v2"
    assert app.cache.client.pttl(app.cache.key(7)) == -1  # pending: never expires

    flusher = Flusher(app.queue, lambda: app.db._connect("writer"), ttl_ms=30_000, table=app.table)
    assert flusher.drain() == 0
    newest = acked[2]
    assert newest is not None
    assert _db_row(app, 7) == ("v2", newest.version)
    assert flusher.applied == 4
    assert app.cache.client.pttl(app.cache.key(7)) > 0  # applied: the entry expires now

    # Redelivery (at least once): replaying older items, in any order, changes nothing.
    app.cache.client.rpush(app.queue.queue_key, *_queue_items([acked[1], acked[0]]))
    assert flusher.drain() == 0
    assert flusher.applied == 4
    assert _db_row(app, 7) == ("v2", newest.version)
    assert flusher.conn is not None
    assert measure_loss(flusher.conn, [u for u in acked if u], app.table) == (4, 0)
    flusher.close()


def _queue_items(users: list[User | None]) -> list[str]:
    """Queue items as the enqueue script writes them."""
    items = []
    for user in users:
        assert user is not None
        data = user.as_json()
        version = data.pop("version")
        items.append(f"{version}|{json.dumps(data)}")
    return items


def test_the_reader_path_reads_from_a_replica(make_app: MakeApp) -> None:
    app = make_app("none", "reader")
    wait_for(lambda: app.get_user(2).user)
    with app.db.reads() as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    assert row == (True,)
    with app.db.writes() as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)


def _race(make_app: MakeApp, fill: Fill) -> tuple[int, int]:
    """A reader loads user 1, an update commits and invalidates, then the reader fills the
    cache: the stale-set race, forced by a hook between the reader's load and its fill.
    Returns (stale reads afterwards, reads checked)."""
    loaded, go = threading.Event(), threading.Event()

    def hold(_: int) -> None:
        loaded.set()
        go.wait(10)

    reader = make_app("cache-aside", fill=fill)
    reader.before_fill = hold
    writer = make_app("cache-aside", fill=fill)
    acks = AckLog(20)
    checker = StalenessChecker(acks)
    thread = threading.Thread(target=reader.get_user, args=(1,))
    thread.start()
    assert loaded.wait(10)
    updated = writer.update_user(1, "new", "new@example.com")
    assert updated is not None
    acks.record(1, updated.version)
    go.set()
    thread.join(10)
    reader.before_fill = None
    for _ in range(5):
        started = time.monotonic()
        result = writer.get_user(1)
        checker.check(1, result.user.version if result.user else None, started)
    return checker.stale, 5


def test_the_stale_set_race_leaves_an_old_row_in_the_cache(make_app: MakeApp) -> None:
    stale, checked = _race(make_app, "plain")
    assert stale == checked  # every later read returns the pre-update row, until the TTL


def test_versioned_fills_remove_the_stale_set_race(make_app: MakeApp) -> None:
    stale, _ = _race(make_app, "versioned")
    assert stale == 0


def test_single_flight_lock_loads_a_hot_key_once(make_app: MakeApp) -> None:
    loads: list[int] = []
    barrier = threading.Barrier(6)

    def slow_fill(user_id: int) -> None:
        loads.append(user_id)
        threading.Event().wait(0.1)  # a slow load: everyone else misses meanwhile

    apps = [make_app("cache-aside", stampede="lock") for _ in range(6)]
    for app in apps:
        app.before_fill = slow_fill
    results: list[bool | None] = []

    def read(app: ReferenceApp) -> None:
        barrier.wait(5)
        results.append(app.get_user(4).hit)

    threads = [threading.Thread(target=read, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert loads == [4]
    assert sorted(results, key=bool) == [False] + [True] * 5


def test_versioned_tombstones_refuse_older_fills(endpoints: Endpoints) -> None:
    cache = CacheOps(endpoints.connect_cache(), "tombstones")
    cache.delete(1)
    assert cache.tombstone(1, 10, 5_000, 0)
    entry = cache.get(1)
    assert entry is not None and entry.user is None and entry.version == 10
    cache.client.close()


def test_write_behind_loses_the_backlog_when_the_cache_primary_dies(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    box = make_sandbox(
        {
            "database": {"multi_az": False, "read_replicas": 0},
            "cache": {"num_cache_clusters": 1, "automatic_failover_enabled": False},
        }
    )
    box.up()
    endpoints = Endpoints.from_env(box.env())
    with endpoints.connect_db("writer") as conn:
        seed_users(conn, 20)
    app = ReferenceApp.connect(endpoints, "write-behind", "writer")
    assert app.queue is not None
    flusher = Flusher(app.queue, lambda: endpoints.connect_db("writer"), ttl_ms=30_000)
    flushed = [app.update_user(i, f"flushed {i}", "f@example.com") for i in range(1, 6)]
    assert flusher.drain() == 0
    queued = [app.update_user(i, f"queued {i}", "q@example.com") for i in range(1, 9)]
    assert app.queue.backlog() == 8
    box.rdsbox("fault", "kill", "app-redis-cluster-001", check=True)
    # The supervisor restarts the node; with no replica the queue died with it.
    wait_for(lambda: app.queue is not None and app.queue.backlog() == 0, timeout=30)
    assert flusher.drain() == 0
    with endpoints.connect_db("writer") as conn:
        assert measure_loss(conn, [u for u in flushed if u]) == (5, 0)
        assert measure_loss(conn, [u for u in queued if u]) == (0, 8)
    flusher.close()
    app.close()


def test_a_broken_pooled_connection_is_reopened(make_app: MakeApp, endpoints: Endpoints) -> None:
    app = make_app("none")
    with app.db.reads() as conn:
        pid = conn.info.backend_pid
    with endpoints.connect_db("writer") as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):
        app.get_user(1)
    assert app.get_user(1).user is not None
