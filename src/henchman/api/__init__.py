"""The admin API: read and change what is in Redis. The Web UI and CLI use only this.

Every class takes a sync ``redis.Redis`` client with bytes responses (``decode_responses=False``)
and keeps no other state, so objects are cheap to create per request. Ruby Sidekiq's data on the
same Redis is read the same way::

    import redis
    from henchman.api import Queue, RetrySet, Stats

    client = redis.Redis.from_url("redis://localhost:6379/0")
    print(Stats(client).summary())
    for queue in Queue.all(client):
        print(queue.name, queue.size, queue.latency)
    retries = RetrySet(client)
    job = retries.find_job("b4a577edbccf1d805744efa9")
    if job is not None:
        retries.retry(job)  # back to its queue now; retry_count goes down by one, like Sidekiq

A job that moves (retry, add to queue, kill) is removed by its exact bytes and written elsewhere
in one Lua script: never lost, never duplicated, even racing a worker's poller.
"""

from henchman.api.batches import BatchSet, BatchStatus
from henchman.api.iteration import IterationRecord, IterationState
from henchman.api.limits import LimiterRecord, LimiterSet
from henchman.api.metrics import ClassMetrics, JobMetrics, MetricsQuery, TopJobs
from henchman.api.periodic import PeriodicRecord, PeriodicRun, PeriodicSet
from henchman.api.processes import ProcessRecord, ProcessSet, WorkRecord, WorkSet
from henchman.api.queues import Queue, QueueSummary
from henchman.api.records import JobRecord
from henchman.api.results import JobResult
from henchman.api.sorted_sets import DeadSet, RetrySet, ScheduledSet, SortedSet
from henchman.api.stats import Stats, StatsSummary

__all__ = [
    "BatchSet",
    "BatchStatus",
    "ClassMetrics",
    "DeadSet",
    "IterationRecord",
    "IterationState",
    "JobMetrics",
    "JobRecord",
    "JobResult",
    "LimiterRecord",
    "LimiterSet",
    "MetricsQuery",
    "PeriodicRecord",
    "PeriodicRun",
    "PeriodicSet",
    "ProcessRecord",
    "ProcessSet",
    "Queue",
    "QueueSummary",
    "RetrySet",
    "ScheduledSet",
    "SortedSet",
    "Stats",
    "StatsSummary",
    "TopJobs",
    "WorkRecord",
    "WorkSet",
]
