"""Control-API calls made from the page, run on the shared pool so that a click returns at
once (a failover takes seconds); each session lists its own calls and their answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import streamlit as st

from dashboard.handles import Handles

_KEY = "rdsbox_actions"
_KEEP = 20


@dataclass(frozen=True)
class Action:
    """One call: what was asked, when, and its pending or finished answer."""

    label: str
    asked_at: float
    future: Future[str]

    def outcome(self) -> tuple[str, str]:
        """(state, text): ``pending``, ``done`` with the supervisor's sentence, or
        ``failed`` with the error."""
        if not self.future.done():
            return "pending", "running…"
        error = self.future.exception()
        if error is not None:
            return "failed", str(error)
        return "done", self.future.result()


def actions() -> list[Action]:
    """This session's calls, newest last."""
    found = st.session_state.get(_KEY)
    if not isinstance(found, list):
        found = []
        st.session_state[_KEY] = found
    return found


def first_click(key: str, seconds: float = 2.0) -> bool:
    """True unless ``key`` was asked less than ``seconds`` ago in this session.

    Streamlit can call a button's callback twice for one click when a live panel's timed
    rerun comes in at the same moment (both carry the click); a failover must not run
    twice. A double click of a presenter is absorbed the same way."""
    now = time.monotonic()
    stamps = st.session_state.setdefault("rdsbox_clicks", {})
    if now - stamps.get(key, -seconds) < seconds:
        return False
    stamps[key] = now
    return True


def submit(handles: Handles, label: str, call: Callable[[], str]) -> None:
    """Run ``call`` on the pool; remember it under ``label`` (once per click)."""
    if not first_click(label):
        return
    kept = actions()
    kept.append(Action(label, time.time(), handles.pool.submit(call)))
    del kept[:-_KEEP]


def fault(
    handles: Handles,
    name: str,
    target: str | None = None,
    seconds: float | None = None,
    **options: float,
) -> None:
    """Apply a fault in the background, like `rdsbox fault NAME ...`."""
    words = [name, *([target] if target else [])]
    words += [f"--{key} {value:g}" for key, value in options.items()]
    if seconds:
        words.append(f"--for {seconds:g}")
    submit(
        handles,
        "fault " + " ".join(words),
        lambda: handles.client.fault(name, target, seconds, **options),
    )


def show(limit: int = 5) -> None:
    """The session's latest calls with their answers (newest first)."""
    recent = actions()[-limit:]
    if not recent:
        return
    for action in reversed(recent):
        state, text = action.outcome()
        stamp = time.strftime("%H:%M:%S", time.localtime(action.asked_at))
        line = f"`{stamp}` **{action.label}**: {text}"
        if state == "failed":
            st.error(line)
        elif state == "pending":
            st.info(line)
        else:
            st.success(line)
