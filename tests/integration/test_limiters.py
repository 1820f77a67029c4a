"""Each limiter kind on the real server: admits up to its limit, refuses past it with OverLimit,
frees room as its contract says, registers its definition, and has an asyncio twin."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import henchman
from henchman import keys
from henchman.app import Henchman
from henchman.errors import OverLimit
from henchman.limits import base as limits_base
from tests.conftest import RedisDB


def test_a_concurrent_limiter_admits_size_holders_and_refuses_the_next(app: Henchman) -> None:
    limiter = henchman.limiter.concurrent("erp", 2, wait_timeout=0.2, app=app)
    with (
        limiter.within_limit(),
        limiter.within_limit(),
        pytest.raises(OverLimit, match="concurrent limiter 'erp' is over its limit"),
        limiter.within_limit(),
    ):
        pass
    with limiter.within_limit():  # both released: room again
        pass


def test_a_release_wakes_a_blocked_waiter_long_before_any_lease_expires(app: Henchman) -> None:
    limiter = henchman.limiter.concurrent("mutex", 1, lock_timeout=60, wait_timeout=30, app=app)
    admitted = threading.Event()
    holder = limiter.acquire()

    def waiter() -> None:
        with limiter.within_limit():
            admitted.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.3)
    assert not admitted.is_set()
    limiter.release(holder)
    assert admitted.wait(10), "the waiter was not woken by the release"
    thread.join()


def test_a_crashed_holder_loses_its_slot_after_lock_timeout(app: Henchman) -> None:
    limiter = henchman.limiter.concurrent("crashy", 1, lock_timeout=1, wait_timeout=0, app=app)
    limiter.acquire()  # never released, like a holder killed with SIGKILL
    with pytest.raises(OverLimit):
        limiter.acquire()
    started = time.monotonic()
    with limiter.within_limit(wait_timeout=10):
        waited = time.monotonic() - started
    assert waited < 10


def test_a_bucket_limiter_counts_per_calendar_second(app: Henchman) -> None:
    limiter = henchman.limiter.bucket("stripe", 3, "second", wait_timeout=5, app=app)
    seconds = []
    for _ in range(7):
        with limiter.within_limit() as handle:
            seconds.append(int(handle.admitted_at))
    per_second = {s: seconds.count(s) for s in seconds}
    assert max(per_second.values()) <= 3
    assert len(per_second) >= 3  # 7 admissions at 3 per second span at least 3 seconds


def test_a_bucket_limiter_refuses_at_once_when_the_next_interval_is_too_far(
    app: Henchman, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = henchman.limiter.bucket("daily", 1, "day", wait_timeout=2, app=app)
    with limiter.within_limit():
        pass
    pauses: list[float] = []
    monkeypatch.setattr(limits_base.time, "sleep", pauses.append)
    with pytest.raises(OverLimit):
        limiter.acquire()
    assert pauses == []  # no pointless sleep until the deadline: refused on the first decision


def test_a_window_limiter_frees_a_place_when_the_oldest_admission_leaves(app: Henchman) -> None:
    limiter = henchman.limiter.window("win", 2, 0.5, wait_timeout=5, app=app)
    times = []
    for _ in range(4):
        with limiter.within_limit() as handle:
            times.append(handle.admitted_at)
    assert times[2] - times[0] >= 0.5
    assert times[3] - times[1] >= 0.5


def test_a_leaky_bucket_allows_a_burst_then_drips(app: Henchman) -> None:
    limiter = henchman.limiter.leaky("drip", 3, 0.6, wait_timeout=5, app=app)
    times = []
    for _ in range(5):
        with limiter.within_limit() as handle:
            times.append(handle.admitted_at)
    assert times[2] - times[0] < 0.15  # the burst
    assert times[3] - times[0] >= 0.2 * 0.99  # then one every 0.6 / 3 s
    assert times[4] - times[0] >= 0.4 * 0.99


def test_a_points_limiter_charges_the_points_really_used(app: Henchman, redis_db: RedisDB) -> None:
    limiter = henchman.limiter.points("api", 10, 3600, wait_timeout=0, app=app)
    with limiter.within_limit(estimate=8) as handle:
        handle.points_used(2)
    with limiter.within_limit(estimate=8):  # 2 + 8 fits only because the refund happened
        pass
    with pytest.raises(OverLimit):
        limiter.acquire(estimate=1)


def test_a_points_block_without_a_report_keeps_its_estimate(app: Henchman) -> None:
    limiter = henchman.limiter.points("est", 10, 3600, wait_timeout=0, app=app)
    with limiter.within_limit(estimate=6):
        pass
    with pytest.raises(OverLimit):
        limiter.acquire(estimate=5)


def test_a_limiter_registers_its_definition_on_first_use(
    app: Henchman, redis_db: RedisDB
) -> None:
    limiter = henchman.limiter.concurrent("erp", 5, lock_timeout=12, app=app)
    assert redis_db.client.scard(keys.LIMITERS) == 0  # defining connects to nothing
    with limiter.within_limit():
        pass
    assert redis_db.client.smembers(keys.LIMITERS) == {b"erp"}
    assert redis_db.client.hgetall(keys.limiter("erp")) == {
        b"kind": b"concurrent", b"size": b"5", b"lock_timeout": b"12.0"
    }


def test_limiters_are_shared_by_name_across_instances(app: Henchman) -> None:
    first = henchman.limiter.concurrent("shared", 1, wait_timeout=0, app=app)
    second = henchman.limiter.concurrent("shared", 1, wait_timeout=0, app=app)
    with first.within_limit(), pytest.raises(OverLimit):
        second.acquire()


def test_the_async_twin_shares_the_limit(app: Henchman) -> None:
    limiter = henchman.limiter.concurrent("aio", 1, wait_timeout=0, app=app)

    async def scenario() -> None:
        try:
            await steps()
        finally:
            await app.aclient.aclose()

    async def steps() -> None:
        async with limiter.awithin_limit():
            with pytest.raises(OverLimit):
                await limiter.aacquire()
        async with limiter.awithin_limit():
            pass
        window = henchman.limiter.window("aiow", 1, 0.3, wait_timeout=5, app=app)
        async with window.awithin_limit() as first:
            pass
        async with window.awithin_limit() as second:
            pass
        assert second.admitted_at - first.admitted_at >= 0.3

    asyncio.run(scenario())


def test_the_block_s_exception_still_releases_the_slot(app: Henchman) -> None:
    limiter = henchman.limiter.concurrent("boom", 1, wait_timeout=0, app=app)
    with pytest.raises(KeyError), limiter.within_limit():
        raise KeyError("x")
    with limiter.within_limit():
        pass
