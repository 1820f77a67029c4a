"""What every limiter shares: the admission loop (sync and asyncio shells over one decision), the
definition it registers for the admin API, and the handle ``within_limit`` yields.

A kind of limiter only says which script decides an attempt (and which, if any, runs after the
block) and with what arguments; this module runs them, one EVALSHA per attempt, and waits between
refusals as :mod:`henchman.limits.waiting` decides. Limiters are cheap, thread-safe values:
create them once (at import time is fine: nothing connects until first use) and share them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import redis

from henchman.app_default import default_app
from henchman.errors import OverLimit
from henchman.limits import scripts, waiting
from henchman.limits.names import check_name, check_seconds
from henchman.redis.lane import Lane

if TYPE_CHECKING:
    import redis.asyncio as aredis

    from henchman.app import Henchman

log = logging.getLogger("henchman.limiter")

#: Seconds between re-registrations of a limiter's definition by one process, so a limiter
#: deleted in the Web UI (or a flushed server) shows up again while processes use it.
REGISTER_EVERY = 60.0


class Admission:
    """Yielded by ``within_limit``: the caller holds room in the limiter until the block ends."""

    def __init__(self, limiter: str, token: str) -> None:
        self.limiter = limiter
        self.token = token
        #: Server time (epoch seconds) at which the limiter admitted the caller.
        self.admitted_at = 0.0
        #: Server time at which a concurrent lease was given back (0 until then).
        self.released_at = 0.0

    def points_used(self, actual: float) -> None:
        """Report the points the block really used (points limiters only)."""
        raise TypeError(f"limiter {self.limiter!r} is not a points limiter: nothing to report")


def _released(admission: Admission, reply: Any) -> None:
    if isinstance(reply, list) and len(reply) == 2:  # {held, now} from a release
        admission.released_at = int(reply[1]) / 1e6


def new_token() -> str:
    """A random lease/admission token (unique across processes)."""
    return os.urandom(8).hex()


class Limiter:
    """Base of the limiter kinds; use :mod:`henchman.limiter`'s factories to make one."""

    kind: ClassVar[str] = ""
    #: Whether room can free before the refusing script's estimate (a concurrent release).
    frees_early: ClassVar[bool] = False

    def __init__(self, name: str, *, wait_timeout: float, app: Henchman | None) -> None:
        self.name = check_name(name)
        self.wait_timeout = check_seconds("wait_timeout", wait_timeout, allow_zero=True)
        self._app = app
        self._registered_until = 0.0
        self._rng = random.Random()
        self._lane: tuple[redis.Redis, Lane] | None = None
        self._lane_lock = threading.Lock()
        self._key_list: list[str] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.definition()}>"

    # --- what a kind provides -------------------------------------------------------------------

    def definition(self) -> dict[str, str | int | float]:
        """The fields registered in the limiter's definition hash (``kind`` included)."""
        raise NotImplementedError

    def admission(self, **options: Any) -> Admission:
        """A fresh handle for one ``within_limit`` block (kinds with options override this)."""
        if options:
            raise TypeError(f"unexpected option(s) for {self.kind} limiter: {', '.join(options)}")
        return Admission(self.name, new_token())

    def attempt(self, admission: Admission) -> tuple[str, list[Any]]:
        """The script that decides one attempt and its own arguments."""
        raise NotImplementedError

    def after(self, admission: Admission) -> tuple[str, list[Any]] | None:
        """The script to run when the block ends, if any (a release, a correction)."""
        return None

    # --- shared plumbing ------------------------------------------------------------------------

    @property
    def _keys(self) -> list[str]:
        """The scripts' KEYS, named by the app's layout (the app may be the default one,
        resolved on first use)."""
        found = self._key_list
        if found is None:
            found = self._key_list = self.app.keys.limiter_keys(self.name)
        return found

    @property
    def app(self) -> Henchman:
        if self._app is None:
            self._app = default_app()
        return self._app

    def _args(self, own: list[Any]) -> list[Any]:
        if time.monotonic() < self._registered_until:
            return [self.name, 0, *own]
        pairs = [part for item in self.definition().items() for part in item]
        return [self.name, len(pairs) // 2, *pairs, *own]

    def _refused(self, wait_timeout: float) -> OverLimit:
        text = f"{self.kind} limiter {self.name!r} is over its limit (waited {wait_timeout:g} s)"
        return OverLimit(self.name, text)

    def _decide(self, reply: Any, admission: Admission, deadline: float, timeout: float) -> float:
        """0 when admitted; else the pause before the next attempt (raises OverLimit)."""
        self._registered_until = time.monotonic() + REGISTER_EVERY
        admitted, wait_us, now_us = (int(x) for x in reply)
        if admitted:
            admission.admitted_at = now_us / 1e6
            return 0.0
        found = waiting.pause(
            wait_us / 1e6, deadline - time.monotonic(), self._rng.random(),
            frees_early=self.frees_early,
        )  # fmt: skip
        if found is None:
            raise self._refused(timeout)
        return found

    def _block(self, pause: float) -> float:
        """A blocking wait never outlasts the connection's socket timeout (the Redis timeout
        plus the fetch timeout): at most the Redis timeout."""
        return max(min(pause, self.app.settings.redis_timeout), waiting.MIN_PAUSE)

    # --- sync shell -----------------------------------------------------------------------------

    def _redis(self) -> redis.Redis:
        return self.app.client.redis

    def _fast(self) -> Lane:
        """A lane on the app's client: one connection held aside, so a decision costs one
        round trip and little CPU (a thread finding it busy uses the client's pool)."""
        client = self._redis()
        held = self._lane
        if held is None or held[0] is not client:
            with self._lane_lock:
                held = self._lane
                if held is None or held[0] is not client:
                    held = self._lane = (client, Lane(client))
        return held[1]

    def acquire(self, wait_timeout: float | None = None, **options: Any) -> Admission:
        """Wait for room (up to ``wait_timeout``, default the limiter's); raise ``OverLimit``.
        Pair it with :meth:`release`; ``within_limit`` does both."""
        timeout = self.wait_timeout if wait_timeout is None else wait_timeout
        admission = self.admission(**options)
        deadline = time.monotonic() + timeout
        lane = self._fast()
        while True:
            script, own = self.attempt(admission)
            reply = scripts.run(lane, script, self._keys, self._args(own))
            pause = self._decide(reply, admission, deadline, timeout)
            if not pause:
                return admission
            if self.frees_early:
                self._redis().blpop([self._keys[3]], timeout=self._block(pause))
            else:
                time.sleep(pause)

    def release(self, admission: Admission) -> None:
        """End an admission (no-op for kinds with nothing to give back)."""
        step = self.after(admission)
        if step is None:
            return
        try:
            reply = scripts.run(self._fast(), step[0], self._keys, self._args(step[1]))
        except redis.RedisError as exc:  # the lease expires by itself; never mask the block's error
            log.warning("limiter %r: could not release (%s); it expires by itself", self.name, exc)
        else:
            _released(admission, reply)

    @contextlib.contextmanager
    def within_limit(self, wait_timeout: float | None = None, **options: Any) -> Iterator[Any]:
        """``with limiter.within_limit():`` run the block once admitted; ``OverLimit`` if no room
        came within ``wait_timeout`` seconds (default: the limiter's)."""
        admission = self.acquire(wait_timeout, **options)
        try:
            yield admission
        finally:
            self.release(admission)

    # --- asyncio shell --------------------------------------------------------------------------

    def _aredis(self) -> aredis.Redis:
        return self.app.aclient.redis

    async def aacquire(self, wait_timeout: float | None = None, **options: Any) -> Admission:
        """Asyncio twin of :meth:`acquire`."""
        timeout = self.wait_timeout if wait_timeout is None else wait_timeout
        admission = self.admission(**options)
        deadline = time.monotonic() + timeout
        client = self._aredis()
        while True:
            script, own = self.attempt(admission)
            reply = await scripts.arun(client, script, self._keys, self._args(own))
            pause = self._decide(reply, admission, deadline, timeout)
            if not pause:
                return admission
            if self.frees_early:
                await client.blpop([self._keys[3]], timeout=self._block(pause))
            else:
                await asyncio.sleep(pause)

    async def arelease(self, admission: Admission) -> None:
        """Asyncio twin of :meth:`release`."""
        step = self.after(admission)
        if step is None:
            return
        try:
            reply = await scripts.arun(self._aredis(), step[0], self._keys, self._args(step[1]))
        except redis.RedisError as exc:
            log.warning("limiter %r: could not release (%s); it expires by itself", self.name, exc)
        else:
            _released(admission, reply)

    @contextlib.asynccontextmanager
    async def awithin_limit(
        self, wait_timeout: float | None = None, **options: Any
    ) -> AsyncIterator[Any]:
        """``async with limiter.awithin_limit():`` asyncio twin of :meth:`within_limit`."""
        admission = await self.aacquire(wait_timeout, **options)
        try:
            yield admission
        finally:
            await self.arelease(admission)
