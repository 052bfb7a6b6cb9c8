"""Unit tests of finding server binaries and of the errors that say where rdsbox looked."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from sandbox import binaries
from sandbox.binaries import SPECS, Binaries, find_binary
from sandbox.errors import BinaryNotFoundError


def make_executable(directory: Path, name: str, mode: int = 0o755) -> Path:
    """Create a tiny script ``directory/name`` with ``mode``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


def not_found(name: str, env: dict[str, str]) -> str:
    """The message find_binary raises for ``name`` under ``env``, checked to be one line."""
    with pytest.raises(BinaryNotFoundError) as info:
        find_binary(name, env=env)
    message = str(info.value)
    assert "\n" not in message
    assert "\r" not in message
    assert info.value.exit_code == 2
    return message


def test_finds_an_executable_on_the_given_path(tmp_path: Path) -> None:
    empty, full = tmp_path / "empty", tmp_path / "bin"
    empty.mkdir()
    program = make_executable(full, "redis-server")
    found = find_binary("redis-server", env={"PATH": f"{empty}{os.pathsep}{full}"})
    assert found == program


def test_the_first_path_entry_wins(tmp_path: Path) -> None:
    first = make_executable(tmp_path / "one", "redis-cli")
    make_executable(tmp_path / "two", "redis-cli")
    path = f"{tmp_path / 'one'}{os.pathsep}{tmp_path / 'two'}"
    assert find_binary("redis-cli", env={"PATH": path}) == first


def test_a_non_executable_file_on_path_is_skipped(tmp_path: Path) -> None:
    make_executable(tmp_path / "one", "redis-cli", mode=0o644)
    second = make_executable(tmp_path / "two", "redis-cli")
    path = f"{tmp_path / 'one'}{os.pathsep}{tmp_path / 'two'}"
    assert find_binary("redis-cli", env={"PATH": path}) == second


def test_a_directory_named_like_the_program_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "one" / "redis-cli").mkdir(parents=True)
    message = not_found("redis-cli", {"PATH": str(tmp_path / "one")})
    assert str(tmp_path / "one" / "redis-cli") in message


def test_missing_binary_lists_every_path_package_and_variable(tmp_path: Path) -> None:
    dirs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    for directory in dirs:
        directory.mkdir()
    message = not_found("redis-sentinel", {"PATH": os.pathsep.join(map(str, dirs))})
    assert message.startswith("redis-sentinel not found")
    for directory in dirs:
        assert str(directory / "redis-sentinel") in message
    assert "'redis-sentinel'" in message  # the Debian package
    assert "RDSBOX_REDIS_SENTINEL" in message


def test_missing_binary_names_extra_sbin_dirs_and_its_own_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /usr/sbin may really hold haproxy here: pretend nothing is executable.
    monkeypatch.setattr(binaries, "_is_executable", lambda _path: False)
    message = not_found("haproxy", {"PATH": str(tmp_path)})
    assert str(tmp_path / "haproxy") in message
    for directory in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        assert f"{directory}/haproxy" in message
    assert "'haproxy'" in message
    assert "RDSBOX_HAPROXY" in message


def test_duplicate_path_entries_are_listed_once(tmp_path: Path) -> None:
    path = os.pathsep.join([str(tmp_path), str(tmp_path), "", str(tmp_path)])
    message = not_found("redis-cli", {"PATH": path})
    assert message.count(str(tmp_path / "redis-cli")) == 1


def test_empty_path_says_so() -> None:
    message = not_found("redis-cli", {})
    assert "PATH is empty" in message
    assert "'redis-tools'" in message
    assert "RDSBOX_REDIS_CLI" in message


def test_override_pointing_to_a_non_executable_names_the_variable(tmp_path: Path) -> None:
    target = make_executable(tmp_path, "my-haproxy", mode=0o644)
    # An executable on PATH must not be used when the override is set.
    make_executable(tmp_path / "bin", "haproxy")
    message = not_found("haproxy", {"RDSBOX_HAPROXY": str(target), "PATH": str(tmp_path / "bin")})
    assert f"RDSBOX_HAPROXY={target}" in message
    assert "unset RDSBOX_HAPROXY" in message


def test_override_pointing_nowhere_names_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "pgbouncer"
    message = not_found("pgbouncer", {"RDSBOX_PGBOUNCER": str(missing)})
    assert "RDSBOX_PGBOUNCER" in message
    assert str(missing) in message


def test_override_to_an_executable_is_used(tmp_path: Path) -> None:
    program = make_executable(tmp_path, "custom-redis")
    env = {"RDSBOX_REDIS_SERVER": str(program), "PATH": ""}
    assert find_binary("redis-server", env=env) == program


def test_postgres_override_is_a_directory(tmp_path: Path) -> None:
    program = make_executable(tmp_path / "pg" / "bin", "initdb")
    env = {"RDSBOX_PG_BINDIR": str(tmp_path / "pg" / "bin")}
    assert find_binary("initdb", env=env) == program


def test_postgres_override_without_the_program_names_the_variable(tmp_path: Path) -> None:
    message = not_found("pg_ctl", {"RDSBOX_PG_BINDIR": str(tmp_path)})
    assert f"RDSBOX_PG_BINDIR={tmp_path}" in message
    assert str(tmp_path / "pg_ctl") in message
    # The override is the only candidate: the versioned dirs are not tried.
    assert "/usr/lib/postgresql" not in message


def test_postgres_family_also_looks_in_versioned_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Even if PostgreSQL is installed here, make every candidate fail to see the list.
    monkeypatch.setattr(binaries, "_is_executable", lambda _path: False)
    message = not_found("postgres", {})
    assert "'postgresql-15'" in message
    assert "RDSBOX_PG_BINDIR" in message
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    if not versioned:
        pytest.skip("no /usr/lib/postgresql/*/bin directory on this machine")
    assert "/usr/lib/postgresql/" in message
    for directory in versioned:
        assert f"{directory}/postgres" in message


def test_versioned_dirs_highest_major_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in ("9", "15", "13"):
        make_executable(tmp_path / "postgresql" / version / "bin", "pg_basebackup")
    monkeypatch.setattr(binaries, "_PG_VERSIONED_DIRS", str(tmp_path / "postgresql/*/bin"))
    on_path = make_executable(tmp_path / "path", "pg_basebackup")
    found = find_binary("pg_basebackup", env={"PATH": str(on_path.parent)})
    assert found == tmp_path / "postgresql" / "15" / "bin" / "pg_basebackup"


def test_versioned_dirs_come_before_path_in_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in ("14", "16"):
        (tmp_path / "postgresql" / version / "bin").mkdir(parents=True)
    monkeypatch.setattr(binaries, "_PG_VERSIONED_DIRS", str(tmp_path / "postgresql/*/bin"))
    message = not_found("psql", {"PATH": str(tmp_path / "path")})
    v16 = message.index(str(tmp_path / "postgresql/16/bin/psql"))
    v14 = message.index(str(tmp_path / "postgresql/14/bin/psql"))
    on_path = message.index(str(tmp_path / "path" / "psql"))
    assert v16 < v14 < on_path
    assert "'postgresql-client-15'" in message


def test_non_postgres_programs_do_not_look_in_versioned_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_executable(tmp_path / "postgresql" / "15" / "bin", "redis-cli")
    monkeypatch.setattr(binaries, "_PG_VERSIONED_DIRS", str(tmp_path / "postgresql/*/bin"))
    message = not_found("redis-cli", {"PATH": str(tmp_path / "path")})
    assert "postgresql" not in message


def test_every_spec_names_a_package_and_an_rdsbox_variable() -> None:
    for name, spec in SPECS.items():
        assert spec.name == name
        assert spec.package
        assert spec.env_var.startswith("RDSBOX_")


def test_discover_finds_all(tmp_path: Path) -> None:
    names = ("redis-server", "redis-cli")
    paths = {name: make_executable(tmp_path, name) for name in names}
    found = Binaries.discover(names, env={"PATH": str(tmp_path)})
    assert dict(found.paths) == paths
    assert found["redis-cli"] == paths["redis-cli"]


def test_discover_raises_on_the_first_missing_one(tmp_path: Path) -> None:
    make_executable(tmp_path, "redis-server")
    with pytest.raises(BinaryNotFoundError) as info:
        Binaries.discover(
            ("redis-server", "redis-cli", "redis-sentinel"), env={"PATH": str(tmp_path)}
        )
    message = str(info.value)
    assert message.startswith("redis-cli not found")
    assert "redis-sentinel" not in message
