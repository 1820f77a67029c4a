"""An in-process worker for end-to-end tests: start, wait for effects, stop.

It is a :class:`~henchman.server.launcher.Launcher` started with ``start()``: its capsules, poller
and heartbeat run on background threads, no signal handlers are installed, and the test thread
stays free. ``stop()`` is the graceful stop a deploy would do (quiet, wait up to
``settings.timeout``, requeue what still runs, clear the heartbeat).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from henchman.testing.waiting import wait_until

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.config import Settings
    from henchman.server.launcher import Launcher

T = TypeVar("T")


class TestWorker:
    """A worker for ``app`` running on background threads of this process."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, app: Henchman, settings: Settings | None = None) -> None:
        from henchman.server.launcher import Launcher

        self.app = app
        self.launcher: Launcher = Launcher(app, settings or app.settings)
        self._started = False

    def start(self) -> TestWorker:
        """Start fetching and running jobs; returns once the worker threads run."""
        try:
            self.launcher.start()
        except BaseException:
            client = getattr(self.launcher, "redis", None)  # set once the server answered
            if client is not None:
                client.close()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        """Stop gracefully and close the worker's connection (idempotent)."""
        if not self._started:
            return
        self._started = False
        self.launcher.stop()

    def wait_until(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Poll ``predicate`` until truthy (see :func:`henchman.testing.wait_until`)."""
        return wait_until(predicate, timeout)

    def __enter__(self) -> TestWorker:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
