"""The ``-P`` supervisor's health answer counts its slots, not just the children it has so far.

The children are real processes that report one successful heartbeat on their status pipe, as a
worker does, and then wait to be stopped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from henchman.server.supervisor import Supervisor
from tests.support.worker_process import wait_for

BEATS_ONCE = (
    "import os, time\n"
    "os.write(int(os.environ['HENCHMAN_STATUS_FD']), b'1')\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    two = Supervisor([sys.executable, "-c", BEATS_ONCE], 2, env={})
    yield two
    for child in two.children:
        child.process.kill()
        child.process.wait()


def up(supervisor: Supervisor, slot: int) -> None:
    """Start ``slot``'s child and read pipes until its first heartbeat made it up."""
    child = supervisor._start(slot)

    def is_up() -> bool:
        supervisor._read_beats()
        return child.up

    wait_for(is_up, what=f"slot {slot}'s child up")


def test_health_is_503_while_the_first_child_is_up_and_the_others_are_not_started(
    supervisor: Supervisor,
) -> None:
    # The supervisor starts one child, and the others only once it is up: in between, a probe
    # must not see "every child heartbeats" in a list that holds one of two.
    up(supervisor, 0)
    status, body = supervisor.health()
    assert (status, body["status"]) == (503, "unhealthy")
    up(supervisor, 1)
    assert supervisor.health()[0] == 200


def test_health_is_503_while_a_dead_child_waits_for_its_restart(supervisor: Supervisor) -> None:
    up(supervisor, 0)
    up(supervisor, 1)
    assert supervisor.health()[0] == 200
    victim = supervisor.children[1]
    victim.process.kill()
    victim.process.wait()
    assert supervisor._reap() is None  # removed; restart scheduled (no boot failure: any was up)
    assert len(supervisor.children) == 1
    assert supervisor.health()[0] == 503
