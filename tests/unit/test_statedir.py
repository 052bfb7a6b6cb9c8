"""Unit tests of choosing and creating the state directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sandbox.errors import StateDirError
from sandbox.statedir import DEFAULT_STATE_DIR, STATE_DIR_ENV, StateDir


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without RDSBOX_STATE_DIR."""
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)


def test_option_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, "/srv/from-env")
    assert StateDir.resolve("/srv/from-option").root == Path("/srv/from-option")


def test_env_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, "/srv/from-env")
    assert StateDir.resolve(None, cwd=Path("/w")).root == Path("/srv/from-env")


def test_empty_option_falls_back_to_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, "/srv/from-env")
    assert StateDir.resolve("").root == Path("/srv/from-env")


def test_default_is_dot_rdsbox_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert StateDir.resolve(None).root == tmp_path / DEFAULT_STATE_DIR
    assert DEFAULT_STATE_DIR == ".rdsbox"


def test_default_with_explicit_cwd() -> None:
    assert StateDir.resolve(None, cwd=Path("/w")).root == Path("/w/.rdsbox")


def test_relative_option_is_made_absolute_under_cwd() -> None:
    root = StateDir.resolve("boxes/../one", cwd=Path("/w")).root
    assert root == Path("/w/one")
    assert root.is_absolute()


def test_relative_env_is_made_absolute_under_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(STATE_DIR_ENV, "sub/state")
    assert StateDir.resolve(None).root == tmp_path / "sub" / "state"


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/tester")
    assert StateDir.resolve("~/box").root == Path("/home/tester/box")


def test_option_may_be_a_path_object() -> None:
    assert StateDir.resolve(Path("/srv/x")).root == Path("/srv/x")


def test_path_of_80_characters_is_accepted() -> None:
    path = "/" + "a" * 79
    assert StateDir.resolve(path).root == Path(path)


def test_path_over_80_characters_is_refused_in_one_line() -> None:
    path = "/" + "a" * 80
    with pytest.raises(StateDirError) as info:
        StateDir.resolve(path)
    message = str(info.value)
    assert "\n" not in message
    assert path in message
    assert "81 characters" in message
    assert "--state-dir" in message


def test_long_relative_path_is_measured_after_resolution() -> None:
    cwd = Path("/" + "c" * 70)
    with pytest.raises(StateDirError):
        StateDir.resolve("state-dir-x", cwd=cwd)


def test_layout() -> None:
    state = StateDir(Path("/s"))
    assert state.run == Path("/s/run")
    assert state.logs == Path("/s/logs")
    assert state.pid_file("pg") == Path("/s/run/pg.pid")
    assert state.log_file("pg") == Path("/s/logs/pg.log")
    assert state.conf_dir("pg") == Path("/s/conf/pg")
    assert state.data_dir("pg") == Path("/s/data/pg")
    assert state.topology_file == Path("/s/topology.json")
    assert state.supervisor_log == Path("/s/logs/supervisor.log")


def mode(path: Path) -> int:
    """Permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_creates_the_tree_private(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "deep" / "state")
    assert state.ensure() is state
    for directory in (state.root, state.run, state.logs, state.conf_root, state.data_root):
        assert directory.is_dir()
        assert mode(directory) == 0o700, directory
    assert not state.exists  # no config.json yet


def test_ensure_tightens_an_existing_root(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    StateDir(root).ensure()
    assert mode(root) == 0o700


def test_ensure_keeps_the_traverse_grant_of_the_database_user(tmp_path: Path) -> None:
    # `up` opens the root to the database user's group (0710) when PostgreSQL runs as
    # another user; a later ensure() (a background job's) must not take it away.
    root = tmp_path / "state"
    root.mkdir()
    root.chmod(0o710)
    StateDir(root).ensure()
    assert mode(root) == 0o710
    root.chmod(0o750)  # group may list it: not the grant, tightened as before
    StateDir(root).ensure()
    assert mode(root) == 0o700


def test_ensure_is_idempotent(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state").ensure()
    (state.logs / "x.log").write_text("kept\n")
    state.ensure()
    assert (state.logs / "x.log").read_text() == "kept\n"


def test_exists_once_config_is_written(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state").ensure()
    state.config_file.write_text("{}")
    assert state.exists
