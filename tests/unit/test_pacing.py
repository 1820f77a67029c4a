"""Pacing: which thread may take the surplus of a fetch round (server/pacing.py)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from henchman.server.pacing import HOT_JOB, Pacing, keep_hot, one_cpu, smoothed


def in_thread(call: object) -> object:
    """The result of ``call()`` run on a new thread (another thread than the test's)."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call()))  # type: ignore[operator]
    thread.start()
    thread.join(10)
    return result[0]


def test_smoothed_job_time_moves_an_eighth_of_the_way_to_each_sample() -> None:
    assert smoothed(0.0, 0.008) == 0.001
    assert smoothed(0.004, 0.004) == 0.004


def test_short_jobs_stay_hot_and_long_ones_do_not() -> None:
    assert keep_hot(HOT_JOB / 2)
    assert not keep_hot(HOT_JOB)
    assert not keep_hot(0.05)


def test_only_the_thread_that_fetched_a_round_takes_its_surplus() -> None:
    pacing = Pacing(pinned=lambda: False)
    pacing.new_round(surplus=True)
    assert pacing.may_take()
    assert in_thread(pacing.may_take) is False


def test_a_round_of_one_job_leaves_nothing_to_keep() -> None:
    pacing = Pacing()
    pacing.new_round(surplus=False)
    assert in_thread(pacing.may_take) is True


def test_a_thread_kept_on_one_cpu_shares_every_surplus() -> None:
    pacing = Pacing(pinned=lambda: True)
    pacing.new_round(surplus=True)
    assert in_thread(pacing.may_take) is True


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux and two CPUs",
)
def test_one_cpu_tells_a_thread_kept_on_one_cpu_from_a_free_one() -> None:
    def pinned_thread() -> bool:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # this thread only
        return one_cpu()

    assert in_thread(pinned_thread) is True
    assert one_cpu() is False


def test_the_surplus_of_long_jobs_is_shared_at_once() -> None:
    now = [100.0]
    pacing = Pacing(clock=lambda: now[0])
    for _ in range(40):  # jobs of 50 ms each
        pacing.given(True)
        now[0] += 0.05
        pacing.asking()
    assert pacing.job_time > HOT_JOB
    pacing.new_round(surplus=True)
    assert in_thread(pacing.may_take) is True


def test_a_thread_that_got_nothing_adds_no_job_time() -> None:
    now = [100.0]
    pacing = Pacing(clock=lambda: now[0])
    pacing.given(False)  # a take that found no job: the wait until the next is not a job
    now[0] += 5.0
    pacing.asking()
    assert pacing.job_time == 0.0


def test_a_surplus_its_owner_does_not_take_in_time_is_shared() -> None:
    pacing = Pacing(wait=0.02, pinned=lambda: False)
    pacing.new_round(surplus=True)
    surplus = ["job"]  # the owner is busy with a long job and never comes back for it
    in_thread(lambda: pacing.wait_for_owner(surplus, lambda: False))
    assert pacing.shared
    assert in_thread(pacing.may_take) is True


def finished(call: object) -> bool:
    """Whether ``call()``, run on another thread, returned (a minute guards against a hang)."""
    thread = threading.Thread(target=call)  # type: ignore[arg-type]
    thread.start()
    thread.join(60)
    return not thread.is_alive()


def test_the_waiting_thread_goes_on_as_soon_as_the_owner_took_the_last_job() -> None:
    # The clock never moves, so the wait's limit can never pass: only the owner can end it.
    pacing = Pacing(wait=30.0, pinned=lambda: False, clock=lambda: 100.0)
    pacing.new_round(surplus=True)
    surplus = ["job"]

    def owner_takes_it() -> None:
        time.sleep(0.05)
        surplus.pop()
        pacing.emptied()

    threading.Thread(target=owner_takes_it).start()
    assert finished(lambda: pacing.wait_for_owner(surplus, lambda: False))
    assert not pacing.shared  # nothing was left to share: the next round is kept hot again


def test_a_quiet_process_shares_the_surplus_without_waiting_for_its_owner() -> None:
    pacing = Pacing(wait=30.0, pinned=lambda: False, clock=lambda: 100.0)  # the limit never passes
    pacing.new_round(surplus=True)
    assert finished(lambda: pacing.wait_for_owner(["job"], lambda: True))
    assert pacing.shared
