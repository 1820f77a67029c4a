"""The fetch seam refuses fetchers that would lose jobs."""

from __future__ import annotations

from typing import Any

import pytest

from henchman.app import Henchman
from henchman.errors import ConfigError
from henchman.server.fetch import ReliableFetcher, UnitOfWork
from henchman.server.launcher import Launcher
from tests.conftest import RedisDB


class PopFetcher:
    """A BRPOP fetcher: the job is gone from Redis the moment it is fetched."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.working: dict[str, str] = {}

    def take(self) -> UnitOfWork | None:
        return None


class LyingFetcher(ReliableFetcher):
    reliable = False


@pytest.mark.parametrize(
    ("factory", "message"),
    [(PopFetcher, "cannot acknowledge jobs"), (LyingFetcher, "does not declare reliable")],
)
def test_a_fetcher_that_cannot_acknowledge_is_refused_at_startup(
    redis_db: RedisDB, factory: Any, message: str
) -> None:
    app = Henchman(redis_db.settings())
    app.fetcher_factory = factory
    launcher = Launcher(app, app.settings)
    with pytest.raises(ConfigError, match=message):
        launcher.start()
    app.close()


def test_a_subclass_of_the_reliable_fetcher_is_accepted(redis_db: RedisDB) -> None:
    class OrderedFetcher(ReliableFetcher):
        pass

    app = Henchman(redis_db.settings())
    app.fetcher_factory = OrderedFetcher
    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        assert isinstance(launcher.capsules[0].fetcher, OrderedFetcher)
    finally:
        launcher.stop()
        app.close()
