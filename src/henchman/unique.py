"""Unique jobs (Sidekiq Enterprise's semantics): while a job holds its uniqueness lock, pushing
an identical job (same class, arguments and queue) stores nothing and returns ``None``.

* Enabled per job by ``unique_for=SECONDS`` (required); ``unique_until="success"`` (default)
  keeps the lock until the job succeeds, ``"start"`` releases it when the job starts.
* The lock is the Redis string ``unique:<digest>`` (SHA-256 of the JSON ``[class, queue, args]``)
  holding the owner's jid; it expires after ``unique_for`` seconds, plus the delay for a
  scheduled job. The push records the key in the payload (``unique_key``), so the worker
  releases exactly that lock. It is kept through retries and released (only if still the
  owner's) on success or start, by the job's death (retries exhausted or killed), or by expiry.
  Jobs run without a push (``perform_inline``, ``henchman.testing``) took no lock and release
  none.
* The lock check and the push are one Lua call (``unique_push.lua``), so of two clients racing
  with the same job exactly one pushes it. A refused push is logged with the holder's jid.
* ``perform_bulk`` refuses unique jobs (one lock check per job does not fit one bulk write).

The pieces: :class:`UniquePush` (a client push hook), :class:`UniqueLocks` (server middleware
``unique``) and :func:`release_on_death` (a death handler); every app installs all three.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
import redis

from henchman import keys
from henchman.client.plan import ScriptedWrite
from henchman.middleware.chain import JobRun, Middleware

log = logging.getLogger("henchman")

UNTIL = ("success", "start")
#: Payload field naming the lock a pushed unique job holds.
KEY_FIELD = "unique_key"


def digest(job_class: str, queue: str, args: Any) -> str:
    """The lock's identity: SHA-256 (hex) of the JSON ``[class, queue, args]``."""
    return hashlib.sha256(orjson.dumps([job_class, queue, args])).hexdigest()


def lock_key(payload: Mapping[str, Any], layout: keys.KeyLayout = keys.SIDEKIQ) -> str:
    """``unique:<digest>`` for a payload (``unique:{<queue>}:<digest>`` in the cluster layout)."""
    queue = str(payload.get("queue"))
    return layout.unique_lock(digest(str(payload.get("class")), queue, payload.get("args")), queue)


def options(payload: Mapping[str, Any]) -> tuple[float, str] | None:
    """``(unique_for, unique_until)`` if the job is unique, else ``None``; ``ValueError`` (one
    line naming the option) for a bad value."""
    unique_for = payload.get("unique_for")
    until = payload.get("unique_until")
    if unique_for is None:
        if until is not None:
            raise ValueError("unique_until needs unique_for (seconds the lock lasts at most)")
        return None
    if (
        isinstance(unique_for, bool)
        or not isinstance(unique_for, int | float)
        or not math.isfinite(unique_for)
        or unique_for <= 0
    ):
        raise ValueError(f"unique_for must be a number of seconds > 0, not {unique_for!r}")
    if until is None:
        until = "success"
    if until not in UNTIL:
        raise ValueError(f"unique_until must be 'success' or 'start', not {until!r}")
    return float(unique_for), until


def lock_ms(unique_for: float, at: float | None, now: float) -> int:
    """How long the lock lives: ``unique_for``, plus the delay of a scheduled job."""
    delay = max(at - now, 0.0) if at is not None else 0.0
    return max(math.ceil((unique_for + delay) * 1000), 1)


class UniquePush:
    """Push hook: a unique job is written by ``unique_push.lua`` (lock check + push, atomic)."""

    def __init__(self, layout: Callable[[], keys.KeyLayout] = lambda: keys.SIDEKIQ) -> None:
        #: The app's key layout (unique jobs are refused in cluster mode).
        self._layout = layout

    def script_for(
        self, payload: dict[str, Any], at: float | None, now: float
    ) -> ScriptedWrite | None:
        if "unique_for" not in payload and "unique_until" not in payload:
            return None  # the plain push: nothing else to check
        found = options(payload)
        if found is None:
            return None
        layout = self._layout()
        queue = str(payload["queue"])
        key = payload[KEY_FIELD] = lock_key(payload, layout)
        target = layout.queue(queue) if at is None else layout.schedule(queue)
        # The cluster layout names the target again for the queues set (another slot): the
        # script skips its SADD and the client registers the queue before the script runs.
        queues = target if layout.cluster else keys.QUEUES
        return ScriptedWrite(
            "unique_push",
            [key, target, queues],
            [payload["jid"], lock_ms(found[0], at, now), "" if at is None else repr(at), queue],
            refusal=f"duplicate of unique job {payload.get('class')}: lock held by job {{reply}}",
        )

    def check_bulk(self, options: Mapping[str, Any]) -> None:
        if "unique_for" in options or "unique_until" in options:
            raise ValueError(
                "perform_bulk cannot push unique jobs (unique_for): push them one at a time"
            )


def held_lock(payload: Mapping[str, Any]) -> str | None:
    """The lock a pushed unique job holds (``unique_key``), or ``None``."""
    key = payload.get(KEY_FIELD)
    return key if isinstance(key, str) and key.startswith(keys.unique_lock("")) else None


def release(client: redis.Redis, key: str, jid: str) -> bool:
    """Release lock ``key`` if job ``jid`` still holds it."""
    script = client.register_script(_release_source())
    return bool(script(keys=[key], args=[jid]))


def _release_source() -> str:
    from henchman.redis.scripts import source

    return source("unique_release")


def _until(payload: Mapping[str, Any]) -> str:
    until = payload.get("unique_until")
    return until if until in UNTIL else "success"


class UniqueLocks(Middleware):
    """Server middleware ``unique``: releases a unique job's lock when it starts (``"start"``)
    or when it succeeds (``"success"``). A failure keeps the lock (the retry still owns it), and
    so do a requeue or a reschedule. A Redis error on release is logged: the lock then expires."""

    name = "unique"

    def __init__(
        self,
        sync_client: Callable[[str], redis.Redis],
        async_client: Callable[[str], Any],
    ) -> None:
        # Each takes the job's queue: with ``shards`` the lock lives on the queue's server.
        self._sync = sync_client
        self._async = async_client

    def _release(self, key: str, run: JobRun) -> None:
        jid = run.context.jid
        try:
            release(self._sync(run.queue), key, jid)
        except redis.RedisError as exc:
            log.warning("could not release unique lock of job %s: %s", jid, exc)

    async def _arelease(self, key: str, run: JobRun) -> None:
        jid = run.context.jid
        try:
            script = self._async(run.queue).register_script(_release_source())
            await script(keys=[key], args=[jid])
        except redis.RedisError as exc:
            log.warning("could not release unique lock of job %s: %s", jid, exc)

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        key = held_lock(run.payload)
        if key is None:
            return call_next()
        if _until(run.payload) == "start":
            self._release(key, run)
            return call_next()
        result = call_next()
        self._release(key, run)
        return result

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        key = held_lock(run.payload)
        if key is None:
            return await call_next()
        if _until(run.payload) == "start":
            await self._arelease(key, run)
            return await call_next()
        result = await call_next()
        await self._arelease(key, run)
        return result


def release_on_death(
    sync_client: Callable[[str], redis.Redis],
) -> Callable[[dict[str, Any], BaseException], None]:
    """A death handler that frees a dead unique job's lock, so the job can be pushed again
    (``sync_client`` gives the client of the job's queue)."""

    def handler(payload: dict[str, Any], exc: BaseException) -> None:
        key = held_lock(payload)
        if key is not None:
            release(sync_client(str(payload.get("queue", "default"))), key, str(payload.get("jid")))

    return handler
