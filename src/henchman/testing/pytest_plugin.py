"""pytest fixtures for apps that use henchman, registered as the ``henchman`` plugin.

Importing this module starts nothing and imports no server code; every fixture is lazy, so a
test session that requests none of them pays nothing. All names start with ``henchman_``.

- ``henchman_server`` (session): an ephemeral embedded Valkey server in a temporary directory,
  shut down at the end of the session (one per pytest-xdist worker).
- ``henchman_settings``: :class:`~henchman.config.Settings` for an empty database on that server,
  with fast background loops. Like rq, it never uses a database that holds data: it takes the
  first empty one of the server's 16 and fails the test if there is none; it flushes that
  database at teardown.
- ``henchman_app``: a fresh :class:`~henchman.Henchman` app with ``henchman_settings``. Define
  jobs on it with ``@henchman_app.job`` or ``@henchman.job(app=henchman_app)``; to test jobs
  defined on the default app, override this fixture with
  ``henchman.default_app().configure(henchman_settings)``.
- ``henchman_recorder``: :func:`henchman.testing.recording` active on the default app.
- ``henchman_worker``: a :class:`~henchman.testing.worker.TestWorker` running
  ``henchman_app``'s jobs on background threads (no signal handlers), stopped at teardown; use
  ``henchman_worker.wait_until(predicate, timeout)`` to wait for a job's effect.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.config import Settings
    from henchman.redis.embedded import EmbeddedServer
    from henchman.testing.recorder import Recorder
    from henchman.testing.worker import TestWorker

#: Databases a Valkey server has by default.
DATABASES = 16


@pytest.fixture(scope="session")
def henchman_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """An embedded server of its own for this test session, stopped when the session ends."""
    from henchman.redis.embedded import EmbeddedServer

    server = EmbeddedServer(tmp_path_factory.mktemp("henchman-server"))
    server.ensure_running()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def henchman_settings(henchman_server: EmbeddedServer) -> Iterator[Settings]:
    """Settings for an empty database on ``henchman_server``, flushed at teardown."""
    import redis

    from henchman.config import Settings

    for db in range(DATABASES):
        client = redis.Redis(unix_socket_path=str(henchman_server.socket_path), db=db)
        if client.dbsize() == 0:
            break
        client.close()
    else:
        pytest.fail(
            f"all {DATABASES} databases of {henchman_server.url} hold data: refusing to "
            "run a test on any of them"
        )
    try:
        yield Settings(
            redis_url=f"{henchman_server.url}?db={db}",
            home=henchman_server.home,
            heartbeat_interval=0.5,
            poll_interval_average=0.2,
            orphan_check_interval=1.0,
            fetch_timeout=0.5,
            timeout=5.0,
        )
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def henchman_app(henchman_settings: Settings) -> Iterator[Henchman]:
    """A fresh app bound to the test's empty database; its clients are closed at teardown."""
    from henchman.app import Henchman

    app = Henchman(henchman_settings)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def henchman_recorder() -> Iterator[Recorder]:
    """Pushes through the default app are recorded, not written, for the whole test."""
    from henchman.testing.recorder import recording

    with recording() as recorder:
        yield recorder


@pytest.fixture
def henchman_worker(henchman_app: Henchman) -> Iterator[TestWorker]:
    """A worker for ``henchman_app`` running in this process until the test ends."""
    from henchman.testing.worker import TestWorker

    with TestWorker(henchman_app) as worker:
        yield worker
