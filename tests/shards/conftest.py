"""Two shards on the session's embedded server: two empty databases, the test's own and one
more, so every shard test talks to real servers without starting another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from henchman.app import Henchman
from henchman.redis.embedded import EmbeddedServer
from tests.conftest import RedisDB, _db_numbers


@pytest.fixture
def other_db(redis_db: RedisDB, embedded_server: EmbeddedServer) -> Iterator[RedisDB]:
    """A second empty database (the ``reports`` shard of these tests)."""
    db = next(_db_numbers)
    while db == redis_db.db:
        db = next(_db_numbers)
    client = redis.Redis(unix_socket_path=str(embedded_server.socket_path), db=db)
    if client.dbsize():
        client.close()
        pytest.fail(f"database {db} is not empty: refusing to run a test on it")
    try:
        yield RedisDB(embedded_server, db, client)
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def sharded_app(redis_db: RedisDB, other_db: RedisDB) -> Iterator[Henchman]:
    """An app whose ``reports`` queue lives on ``other_db``; every other queue on ``redis_db``."""
    app = Henchman(redis_db.settings(shards={"reports": other_db.url}))
    yield app
    app.close()
