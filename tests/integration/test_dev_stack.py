"""``make run`` (``contact-import dev``) cleans up after itself, and recovers from a run that did not.

Real processes on free ports and a temporary state folder (tests/devstack.py); what is left behind is
checked by PID (and start time) against every process of the stack seen running.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.devstack import DevStack


@pytest.fixture
def dev() -> Iterator[DevStack]:
    stack = DevStack()
    try:
        yield stack
    finally:
        stack.cleanup()


def test_after_kill_9_the_next_run_recovers_and_ctrl_c_leaves_nothing(dev: DevStack) -> None:
    dev.start().wait_ready()
    dev.signal(signal.SIGKILL)  # its broker and Postgres outlive it: nothing could stop them
    assert dev.wait_exit() == -signal.SIGKILL

    dev.start().wait_ready()  # same ports, same state folder: what the first run left is found
    assert "Traceback" not in dev.output()
    dev.signal(signal.SIGINT)
    assert dev.wait_exit() == 0, dev.output()[-3000:]
    assert dev.left_running() == [], dev.output()[-3000:]
    assert not (dev.state / "dev.env").exists()


def test_closing_its_terminal_leaves_nothing_behind(dev: DevStack) -> None:
    dev.start_in_terminal().wait_ready()
    dev.close_terminal()  # SIGHUP, and every later write to the terminal fails
    dev.wait_exit()
    assert dev.left_running() == [], dev.output()[-3000:]

    dev.start().wait_ready()  # and the next run starts as after a clean stop
    dev.signal(signal.SIGHUP)
    assert dev.wait_exit() == 0, dev.output()[-3000:]
    assert dev.left_running() == [], dev.output()[-3000:]
