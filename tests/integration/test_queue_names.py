"""One rule for queue names everywhere (``henchman.queue_names``): no empty names, whitespace or
control characters, refused at every push path as the worker's ``-q`` refuses them, and nothing
is written to Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from henchman.app import Henchman
from henchman.cli.main import main
from henchman.config import Settings
from henchman.queue_names import check_queue_name, queue_name_problem
from tests.conftest import RedisDB

BAD = ["two words", "tab\there", "new\nline", "nul\x00", "bell\x07", "zero\u200bwidth", "", " "]
GOOD = ["default", "critical", "a.b-c_d:e/f", "émoji-📬", "<script>"]


@pytest.mark.parametrize("name", GOOD)
def test_ordinary_names_are_accepted(name: str) -> None:
    assert queue_name_problem(name) is None
    assert check_queue_name(name) == name


@pytest.mark.parametrize("name", [*BAD, None, 3])
def test_bad_names_are_refused_saying_why(name: Any) -> None:
    with pytest.raises(ValueError, match="invalid queue name") as caught:
        check_queue_name(name)
    assert str(caught.value).count("\n") == 0


@pytest.mark.parametrize("name", ["two words", "bell\x07"])
def test_perform_async_refuses_and_writes_nothing(
    app: Henchman, redis_db: RedisDB, name: str
) -> None:
    @app.job(name="names.work")
    def work() -> None: ...

    with pytest.raises(ValueError, match="invalid queue name"):
        work.set(queue=name).perform_async()
    with pytest.raises(ValueError, match="invalid queue name"):
        work.set(queue=name).perform_in(60)
    assert redis_db.client.dbsize() == 0


def test_enqueue_by_name_refuses(app: Henchman, redis_db: RedisDB) -> None:
    with pytest.raises(ValueError, match="cannot hold whitespace"):
        app.enqueue("Some::RubyJob", 1, queue="a b")
    assert redis_db.client.dbsize() == 0


def test_perform_bulk_refuses(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="names.bulk", queue="bad\tqueue")
    def work(n: int) -> None: ...

    with pytest.raises(ValueError, match="invalid queue name"):
        work.perform_bulk([[1], [2]])
    assert redis_db.client.dbsize() == 0


def test_the_async_client_refuses(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="names.async")
    def work() -> None: ...

    async def push() -> None:
        try:
            await work.set(queue="a b").aperform_async()
        finally:
            await app.aclient.aclose()

    with pytest.raises(ValueError, match="invalid queue name"):
        asyncio.run(push())
    assert redis_db.client.dbsize() == 0


def test_a_queue_set_by_client_middleware_is_checked(app: Henchman, redis_db: RedisDB) -> None:
    def reroute(name: str, payload: dict[str, Any], queue: str) -> dict[str, Any]:
        return {**payload, "queue": "re routed"}

    app.client_middleware.append(reroute)

    @app.job(name="names.mw")
    def work() -> None: ...

    with pytest.raises(ValueError, match="'re routed'"):
        work.perform_async()
    assert redis_db.client.dbsize() == 0


def test_cli_enqueue_refuses_with_one_line_and_exit_2(redis_db: RedisDB) -> None:
    result = CliRunner().invoke(
        main, ["enqueue", "HardJob", "[1]", "--queue", "a b"], env={"REDIS_URL": redis_db.url}
    )
    assert result.exit_code == 2
    assert "a queue name cannot hold whitespace" in result.output
    assert redis_db.client.dbsize() == 0


def test_the_worker_refuses_control_characters_as_push_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "-q", "bell\x07"], env={})
    assert result.exit_code == 2
    assert "cannot hold control characters" in result.output


def test_settings_from_a_file_use_the_same_rule(tmp_path: Path) -> None:
    from henchman.config_loader import load_settings
    from henchman.errors import ConfigError

    (tmp_path / "h.yml").write_text('queues: ["ok", "zero\\u200bwidth"]\n')
    with pytest.raises(ConfigError, match="cannot hold control characters"):
        load_settings(config_file=tmp_path / "h.yml")
    assert Settings().queues  # the default stays valid
