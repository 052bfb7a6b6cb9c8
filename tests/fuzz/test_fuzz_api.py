"""Fuzzing the control API of ONE real running sandbox with generated request bodies for
``POST /v1/fault`` and ``POST /v1/promote-replica``: bad input gets HTTP 4xx with a one-line
JSON error, never a 500, and the sandbox stays healthy.

Every generated body is invalid by construction (an unknown target, a duration or option
out of range, a wrong type, not JSON at all), so a fault that really applies would show up
as a 200 and fail the test instead of disturbing the shared sandbox."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.supervisor.faults import FAULTS
from sandbox.topology import CLIENT_ENDPOINTS
from tests.fuzz.conftest import CaseCounter
from tests.fuzz.strategies import scalars, text, values
from tests.support import Sandbox

pytestmark = [pytest.mark.fuzz, pytest.mark.integration]

# Names a fault may act on in the default sandbox (components are added at run time).
_ALIASES = {"primary", "standby", "replica", "cache_primary", *CLIENT_ENDPOINTS}


def _junk_target(valid: set[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), scalars, text).filter(lambda t: t not in valid)


_BAD_SECONDS = st.one_of(
    st.floats(max_value=0),
    st.floats(min_value=86400.5),
    st.sampled_from([math.nan, math.inf, -math.inf, True, "5", [], {}]),
)
_BAD_OPTIONS = st.one_of(
    st.sampled_from([[], "ms=5", 5, True]),
    st.dictionaries(
        st.sampled_from(["ms", "jitter", "x"]),
        st.one_of(
            st.floats(max_value=-0.001),
            st.floats(min_value=600_001),
            st.sampled_from([math.nan, math.inf, "5", None, True, [1]]),
        ),
        min_size=1,
        max_size=2,
    ),
)


@st.composite
def bodies(draw: st.DrawFn, valid: set[str]) -> bytes:
    """A request body that the API must refuse."""
    kind = draw(st.integers(0, 4))
    faults = st.one_of(st.sampled_from(FAULTS), text)
    any_target = st.one_of(st.sampled_from(sorted(valid)), _junk_target(valid))
    if kind == 0:  # a fault that takes a target, with a target that does not exist
        taking = [
            f
            for f in FAULTS
            if f not in ("db-failover", "cache-failover", "rotate-secret", "clear")
        ]
        body: Any = {
            "fault": draw(st.sampled_from(taking)),
            "target": draw(_junk_target(valid)),
            "seconds": draw(st.one_of(st.none(), st.floats(0.1, 5))),
            "options": draw(st.one_of(st.none(), st.just({"ms": 1.0}))),
        }
    elif kind == 1:  # any fault, a duration no fault accepts
        body = {"fault": draw(faults), "target": draw(any_target), "seconds": draw(_BAD_SECONDS)}
    elif kind == 2:  # any fault, options no fault accepts
        body = {"fault": draw(faults), "target": draw(any_target), "options": draw(_BAD_OPTIONS)}
    elif kind == 3:  # the fault name is not text, or no fault at all
        body = draw(st.dictionaries(st.sampled_from(["target", "seconds", "x"]), values(text)))
        if draw(st.booleans()):
            body["fault"] = draw(st.one_of(st.none(), st.integers(), st.lists(text, max_size=2)))
    else:  # not a JSON object
        raw = draw(
            st.one_of(
                st.binary(max_size=40),
                values(text).filter(lambda v: not isinstance(v, dict)).map(json.dumps),
                st.just("[" * 5000 + "]" * 5000),
                st.just('{"fault": '),
            )
        )
        return raw if isinstance(raw, bytes) else raw.encode()
    return json.dumps(body).encode()


def _post(sandbox: Sandbox, path: str, data: bytes) -> tuple[int, dict[str, Any]]:
    port = json.loads((sandbox.state_dir / "control.json").read_text())["port"]
    token = (sandbox.state_dir / "control.token").read_text().strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status), dict(json.loads(answer.read()))
    except urllib.error.HTTPError as refused:
        return refused.code, dict(json.loads(refused.read()))


@pytest.fixture(scope="module")
def valid_names(sandbox: Sandbox) -> set[str]:
    return _ALIASES | {c["name"] for c in sandbox.status()["components"]}


def test_bad_fault_bodies_get_a_4xx_and_leave_the_sandbox_healthy(
    sandbox: Sandbox, valid_names: set[str], cases: CaseCounter
) -> None:
    log = sandbox.state_dir / "logs" / "supervisor.log"
    tracebacks = log.read_text().count("Traceback")

    @given(path=st.sampled_from(["/v1/fault", "/v1/promote-replica"]), data=st.data())
    def check(path: str, data: st.DataObject) -> None:
        cases("api")
        # The default sandbox is Multi-AZ: promote-replica refuses any body.
        body = data.draw(
            bodies(valid_names)
            if path == "/v1/fault"
            else st.one_of(
                bodies(valid_names), values(text).map(lambda v: json.dumps({"target": v}).encode())
            )
        )
        code, answer = _post(sandbox, path, body)
        assert 400 <= code < 500, (path, body[:200], code, answer)
        error = answer.get("error")
        assert isinstance(error, str) and error and "\n" not in error, answer

    check()
    status = sandbox.status()
    assert status["healthy"], [c for c in status["components"] if not c["healthy"]]
    assert not any(status["faults"].values()), status["faults"]
    assert log.read_text().count("Traceback") == tracebacks
