"""The demo's jobs: one of each kind henchman runs.

``henchman run -r jobs`` imports this module, which registers every job below by its wire name
(``jobs.add``, ``jobs.SendWelcomeEmail``, ...). ``client.py`` imports it too, to push them.

Each job records that it ran by adding its jid to the ``demo:done`` set (and a line to the
``demo:results`` list), so ``run_demo.py`` can tell when everything it pushed has been processed.
Real jobs would write to a database instead; the demo uses the same Redis so it needs nothing else.
"""

from __future__ import annotations

import asyncio
import threading
import time

import orjson
import redis

import henchman

#: Set of jids of the jobs that ran (``run_demo.py`` waits on it).
DONE = "demo:done"
#: List of human-readable results, newest last (trimmed to the last 200).
RESULTS = "demo:results"
#: How long the demo's own keys live (seconds).
KEEP = 24 * 3600


_client_lock = threading.Lock()
_clients: list[redis.Redis] = []


def redis_client() -> redis.Redis:
    """One redis-py client for the jobs of this process, to the server henchman uses.

    Created once under a lock: the worker runs jobs on several threads at once.
    """
    with _client_lock:
        if not _clients:
            _clients.append(henchman.default_app().connector.sync())
        return _clients[0]


def _entry(kind: str, value: object) -> tuple[str, bytes]:
    """The running job's jid and a JSON line describing its result."""
    job = henchman.current_job()
    jid = job.jid if job is not None else "inline"
    return jid, orjson.dumps({"job": kind, "jid": jid, "result": value, "at": time.time()})


def record(kind: str, value: object) -> None:
    """Note (from a sync job) that this job ran, with its result."""
    jid, line = _entry(kind, value)
    pipe = redis_client().pipeline(transaction=False)
    pipe.sadd(DONE, jid)
    pipe.expire(DONE, KEEP)
    pipe.rpush(RESULTS, line)
    pipe.ltrim(RESULTS, -200, -1)
    pipe.expire(RESULTS, KEEP)
    pipe.execute()


async def arecord(kind: str, value: object) -> None:
    """Note (from an async job) that this job ran, with its result."""
    jid, line = _entry(kind, value)
    pipe = henchman.default_app().aclient.redis.pipeline(transaction=False)
    pipe.sadd(DONE, jid)
    pipe.expire(DONE, KEEP)
    pipe.rpush(RESULTS, line)
    pipe.ltrim(RESULTS, -200, -1)
    pipe.expire(RESULTS, KEEP)
    await pipe.execute()


# --- 1. a plain function: runs on one of the worker's threads -----------------------------------


@henchman.job
def add(a: int, b: int) -> int:
    """Add two numbers (wire name ``jobs.add``, queue ``default``, 25 retries)."""
    total = a + b
    record("add", total)
    return total


# --- 2. an async function: runs on the worker's event loop --------------------------------------


@henchman.job(queue="default", retry=5)
async def fetch_title(url: str) -> str:
    """Pretend to fetch a page (an I/O wait), then record a made-up title."""
    await asyncio.sleep(0.05)
    title = f"Title of {url}"
    await arecord("fetch_title", title)
    return title


# --- 3. a class-style job: options as class attributes, jid/logger on self -----------------------


class SendWelcomeEmail(henchman.Job):
    """Send a welcome e-mail (here: log it)."""

    queue = "default"
    retry = 3

    def perform(self, user_id: int, email: str) -> None:
        self.logger.info("sending the welcome e-mail to %s (user %d)", email, user_id)
        record("welcome_email", email)


# --- 4. a job that fails once, then succeeds on its retry ---------------------------------------


class ChargeCard(henchman.Job):
    """Charge a card through a payment API that times out on the first attempt.

    The first run raises; henchman writes the job to the ``retry`` set with ``retry_count`` 0,
    and the scheduler poller pushes it back to its queue when it is due. ``retry_in`` shortens the
    delay from Sidekiq's default (15-25 s for the first retry) to one second for the demo.
    """

    retry = 3

    def perform(self, order_id: int, cents: int) -> None:
        if self.retry_count == 0:  # 0 on the first run, 1 on the first retry
            raise TimeoutError(f"payment API timed out for order {order_id} (demo: first try)")
        record("charge_card", {"order": order_id, "cents": cents, "attempt": self.retry_count + 1})

    def retry_in(self, count: int, exc: BaseException, payload: dict[str, object]) -> float:
        return 1.0


# --- 5. a job with an explicit wire name (how Ruby's jobs are served, or pushed by name) ----------


@henchman.job(name="NightlyReport")
def nightly_report(day: str) -> None:
    """Build the report for ``day``. Pushed by name: ``henchman.enqueue("NightlyReport", day)``."""
    record("nightly_report", day)
