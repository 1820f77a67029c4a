"""The ``henchman`` pytest plugin, exercised in a separate pytest run (``pytester``)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

END_TO_END = """
import asyncio

import pytest
import redis

from henchman import keys


def test_jobs_run_on_the_worker(henchman_app, henchman_worker):
    done = []

    @henchman_app.job
    def add(a, b):
        done.append(a + b)

    @henchman_app.job
    async def async_add(a, b):
        await asyncio.sleep(0)
        done.append(a + b)

    add.perform_async(1, 2)
    async_add.perform_async(3, 4)
    add.perform_in(0.3, 5, 6)

    henchman_worker.wait_until(lambda: sorted(done) == [3, 7, 11], timeout=15)


def test_each_test_gets_an_empty_database(henchman_app, henchman_settings):
    assert henchman_app.settings is henchman_settings
    client = redis.Redis.from_url(henchman_settings.redis_url)
    try:
        assert client.dbsize() == 0
        henchman_app.enqueue("Left::Behind", 1)
        assert client.llen(keys.queue("default")) == 1
    finally:
        client.close()


def test_the_server_is_shared_by_the_session(henchman_server, henchman_settings):
    assert henchman_settings.redis_url.startswith(henchman_server.url)
    assert henchman_server.status()["running"]


def test_the_recorder_captures_default_app_pushes(henchman_recorder):
    import henchman

    henchman.enqueue("Some::Job", 1)
    assert [job["args"] for job in henchman_recorder.jobs_for("Some::Job")] == [[1]]
"""


def test_plugin_fixtures_work_end_to_end_in_a_user_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_jobs=END_TO_END)
    result = pytester.runpytest_subprocess(
        "-p", "no:valkey", "-p", "no:cacheprovider", "-W", "error", "-v"
    )
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()  # no leaked-resource warnings


def test_a_database_holding_data_is_never_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_full="""
        import redis

        def test_fill_every_database(henchman_server):
            for db in range(16):
                client = redis.Redis(unix_socket_path=str(henchman_server.socket_path), db=db)
                client.set("user-data", "keep me")
                client.close()

        def test_refused(henchman_app):
            raise AssertionError("must not run")

        def test_data_kept(henchman_server):
            client = redis.Redis(unix_socket_path=str(henchman_server.socket_path), db=0)
            try:
                assert client.get("user-data") == b"keep me"
            finally:
                client.close()
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:valkey", "-p", "no:cacheprovider", "-W", "error", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*hold data: refusing to run a test on any of them*"])
