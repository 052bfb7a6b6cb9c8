"""Fuzzing the command line in-process (through ``main()``, as the console script runs):
generated arguments for commands that must fail fast. Every failure is one line on
stderr with exit status 2 (3: `status` of a sandbox that is not running), never a
traceback, and nothing is left running.

No server can start here: the state dir holds no sandbox, and the Redis server binary
points nowhere, so even an `up` whose arguments happened to be valid stops at its first
pre-flight check."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.cli.app import main
from sandbox.process import PidRecord
from tests.fuzz.conftest import CaseCounter

pytestmark = pytest.mark.fuzz

_COMMANDS = [
    ["up"],
    ["down"],
    ["status"],
    ["env"],
    ["events"],
    ["logs"],
    ["demo"],
    ["load"],
    ["metrics"],
    ["promote-replica"],
    ["plan"],
    ["fault", "kill"],
    ["fault", "hang"],
    ["fault", "latency"],
    ["fault", "blackhole"],
    ["fault", "replica-lag"],
    ["fault", "rotate-secret"],
    ["fault", "nope"],
    ["nope"],
]
_OPTIONS = [
    "--profile",
    "--port-base",
    "--config",
    "--json",
    "--for",
    "--ms",
    "--jitter",
    "--rate",
    "--duration",
    "--workers",
    "--strategy",
    "--since",
    "--metric",
    "--lines",
    "--no-such-option",
    "-x",
    "--terraform",
    "--var-file",
]
_VALUES = st.one_of(
    st.sampled_from(["", "-1", "0", "1e999", "nan", "inf", "99999", "40000", "1.5", "turbo"]),
    st.sampled_from(["writer", "primary", "app-primary-db-a", "fast", "aws", "--", "-"]),
    st.integers(-(10**9), 10**9).map(str),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
)


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    """A command with generated options and values, or arguments known to be wrong."""
    kind = draw(st.integers(0, 3))
    if kind == 0:  # a bad --profile for up
        profile = draw(st.text(max_size=10).filter(lambda p: p not in ("fast", "aws")))
        return ["up", "--profile", profile]
    if kind == 1:  # a --port-base that is no port base
        base = draw(
            st.one_of(
                st.integers(max_value=1023),
                st.integers(min_value=32718 + 1),
                st.text(max_size=8).filter(lambda t: not t.strip().lstrip("+-").isdigit()),
            )
        )
        return ["--port-base", str(base), "up"]
    command = list(draw(st.sampled_from(_COMMANDS)))
    words = draw(st.lists(st.one_of(st.sampled_from(_OPTIONS), _VALUES), max_size=6))
    return [*command, *words] if kind == 2 else [*words, *command]


@pytest.fixture(scope="module")
def state_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="rdsbox-fuzz-") as tmp:
        yield Path(tmp) / "state"


@pytest.fixture(scope="module", autouse=True)
def no_servers() -> Iterator[None]:
    saved = os.environ.get("RDSBOX_REDIS_SERVER")
    os.environ["RDSBOX_REDIS_SERVER"] = "/nonexistent/redis-server"
    yield
    if saved is None:
        os.environ.pop("RDSBOX_REDIS_SERVER", None)
    else:
        os.environ["RDSBOX_REDIS_SERVER"] = saved


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    saved = sys.argv
    sys.argv = ["rdsbox", *argv]
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:
        code = 0
    finally:
        sys.argv = saved
    return code, err.getvalue()


@given(argv=argvs())
def test_bad_command_lines_fail_with_one_line(
    cases: CaseCounter, state_dir: Path, argv: list[str]
) -> None:
    cases("cli")
    code, stderr = _run(["--state-dir", str(state_dir), *argv])
    assert code in (0, 2, 3), (argv, code, stderr)
    assert "Traceback" not in stderr, stderr
    if code == 2:
        assert stderr.count("\n") == 1 and stderr.startswith("rdsbox: error: "), (argv, stderr)
    run = state_dir / "run"
    live = [p for p in run.glob("*.pid") if (r := PidRecord.read(p)) and r.alive()]
    assert live == [], f"{argv} left {live} running"
