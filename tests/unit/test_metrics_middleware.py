"""The metrics middleware's in-memory side: no Redis on the job path."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from henchman.api.metrics import BUCKET_LABELS, bucket_index
from henchman.context import JobContext
from henchman.middleware.chain import Chain, JobRun
from henchman.middleware.metrics import Metrics

NOW = 1_739_522_600.0  # 2025-02-14 08:43:20 UTC


def run_of(**payload: Any) -> JobRun:
    body = {"class": "HardJob", "jid": "a" * 24, "args": [], **payload}
    return JobRun(JobContext(body, "default"))


def test_bucket_index_follows_sidekiqs_buckets() -> None:
    assert len(BUCKET_LABELS) == 26
    assert bucket_index(0) == 0
    assert bucket_index(19.9) == 0
    assert bucket_index(20) == 1  # "20ms" holds executions under 20 ms
    assert bucket_index(280) == 7
    assert bucket_index(335_000) == 25
    assert bucket_index(10**9) == 25


def test_success_counts_time_and_histogram() -> None:
    metrics = Metrics(clock=lambda: NOW)
    Chain([metrics]).invoke(run_of(), lambda: None)
    tally = metrics._pending[("HardJob", int(NOW) // 60)]
    assert tally[:2] == [1, 0]
    assert tally[3][0] == 1  # a no-op job takes under 20 ms


def test_failure_counts_but_adds_no_time() -> None:
    metrics = Metrics(clock=lambda: NOW)

    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        Chain([metrics]).invoke(run_of(), fail)
    assert metrics._pending[("HardJob", int(NOW) // 60)] == [1, 1, 0.0, None]


def test_async_jobs_are_counted() -> None:
    metrics = Metrics(clock=lambda: NOW)

    async def job() -> None:
        await asyncio.sleep(0)

    asyncio.run(Chain([metrics]).ainvoke(run_of(), job))
    assert metrics.pending() == 1


def test_activejob_wrapped_class_is_used() -> None:
    metrics = Metrics(clock=lambda: NOW)
    Chain([metrics]).invoke(run_of(wrapped="SendInvoiceJob"), lambda: None)
    assert list(metrics._pending) == [("SendInvoiceJob", int(NOW) // 60)]


def test_payload_without_a_class_name_is_ignored() -> None:
    metrics = Metrics(clock=lambda: NOW)
    Chain([metrics]).invoke(run_of(**{"class": 7}), lambda: None)
    assert metrics.pending() == 0


def test_concurrent_jobs_are_all_counted() -> None:
    metrics = Metrics(clock=lambda: NOW)
    chain = Chain([metrics])

    def worker() -> None:
        for _ in range(2000):
            chain.invoke(run_of(), lambda: None)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally = metrics._pending[("HardJob", int(NOW) // 60)]
    assert tally[0] == 8000
    assert sum(tally[3]) == 8000


def test_failed_flush_keeps_the_counts() -> None:
    class Broken:
        def pipeline(self, transaction: bool = True) -> Any:
            raise ConnectionError("down")

    metrics = Metrics(clock=lambda: NOW)
    Chain([metrics]).invoke(run_of(), lambda: None)
    with pytest.raises(ConnectionError):
        metrics.flush(Broken())  # type: ignore[arg-type]
    assert metrics.pending() == 1
