"""A job's own state on its queue's shard (unique lock, result record); batches refused off the
default shard."""

from __future__ import annotations

import pytest

from henchman import keys
from henchman.api import JobResult
from henchman.app import Henchman
from henchman.batches.batch import Batch
from henchman.config import QueueSpec
from henchman.errors import BatchError
from tests.conftest import RedisDB
from tests.integration._core_helpers import running_worker, wait_for

QUEUES = (QueueSpec("default"), QueueSpec("reports"))


def test_a_unique_jobs_lock_is_released_on_its_shard_when_it_succeeds(
    sharded_app: Henchman, other_db: RedisDB
) -> None:
    @sharded_app.job(name="shards.unique", queue="reports", unique_for=600)
    def unique() -> None: ...

    assert unique.perform_async() is not None
    assert list(other_db.client.scan_iter(match="unique:*"))
    with running_worker(sharded_app, sharded_app.settings.replace(queues=QUEUES)):
        wait_for(lambda: not list(other_db.client.scan_iter(match="unique:*")), what="release")
    assert unique.perform_async() is not None  # the lock is gone: the job can be pushed again


def test_a_jobs_result_is_kept_on_its_shard_and_read_from_there(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    @sharded_app.job(name="shards.answer", queue="reports", result_ttl=600)
    def answer() -> int:
        return 42

    jid = answer.perform_async()
    assert jid is not None
    with running_worker(sharded_app, sharded_app.settings.replace(queues=QUEUES)):
        result = JobResult(jid, app=sharded_app).wait(30)
    assert result.value == 42
    assert not list(redis_db.client.scan_iter(match=f"*{jid}*"))
    assert list(other_db.client.scan_iter(match=f"*{jid}*"))


def test_a_batch_job_on_a_queue_off_the_default_shard_is_refused_in_one_line(
    sharded_app: Henchman, other_db: RedisDB
) -> None:
    @sharded_app.job(name="shards.batched", queue="reports")
    def batched() -> None: ...

    batch = Batch(app=sharded_app)
    with pytest.raises(BatchError) as info, batch.jobs():
        batched.perform_async()
    assert str(info.value) == (
        f"queue 'reports' lives on shard {other_db.url}: a batch's jobs must use queues of the "
        "default shard, where batches are kept"
    )
    assert other_db.client.llen(keys.queue("reports")) == 0


def test_a_batch_on_the_default_shard_still_works_in_a_sharded_app(
    sharded_app: Henchman, redis_db: RedisDB
) -> None:
    @sharded_app.job(name="shards.batched_here", queue="mail")
    def batched_here() -> None: ...

    batch = Batch(app=sharded_app)
    with batch.jobs():
        batched_here.perform_async()
    assert redis_db.client.llen(keys.queue("mail")) == 1
