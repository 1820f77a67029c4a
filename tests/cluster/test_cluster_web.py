"""The Web UI and the admin CLI in cluster mode: per-queue retry sets shown as one list, a job's
page found in its queue's set, an action moving it within its slot, the stats summed."""

from __future__ import annotations

import contextlib

import orjson
from click.testing import CliRunner
from redis.cluster import RedisCluster

from henchman import keys
from henchman.cli.main import main
from henchman.web import create_app
from tests.cluster._helpers import spread_queues
from tests.conftest import ClusterDB
from tests.web.conftest import form_token, serve

L = keys.CLUSTER


def _retry(rc: RedisCluster, queue: str, jid: str, score: float) -> None:
    rc.sadd(L.QUEUES, queue)
    raw = {"class": "Work", "args": [], "queue": queue, "jid": jid, "retry_count": 1}
    rc.zadd(L.retry(queue), {orjson.dumps(raw): score})


def test_the_retries_page_lists_every_queue_and_retries_a_job_in_its_slot(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    import httpx

    a, b = spread_queues(2)
    _retry(rc, a, "jid-a", 100.0)
    _retry(rc, b, "jid-b", 200.0)
    app = create_app(cluster.settings())
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(serve(app))
        stack.callback(app.state.henchman.close)
        with httpx.Client(base_url=url) as http:
            page = http.get("/retries").text
            assert page.index("jid-b") < page.index("jid-a")  # newest first, merged
            detail = http.get("/retries/200.0-jid-b")
            assert detail.status_code == 200
            assert "jid-b" in detail.text
            token = form_token(http)
            response = http.post(
                "/retries/200.0-jid-b", data={"action": "retry", "csrf_token": token}
            )
            assert response.status_code in (302, 303)
            stats = http.get("/stats").json()
    assert rc.zcard(L.retry(b)) == 0
    assert rc.llen(L.queue(b)) == 1
    assert rc.zcard(L.retry(a)) == 1
    assert stats["henchman"]["retries"] == 1
    assert stats["henchman"]["enqueued"] == 1


def test_the_cli_lists_retries_and_stats_of_every_queue(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    a, b = spread_queues(2)
    _retry(rc, a, "jid-a", 100.0)
    _retry(rc, b, "jid-b", 200.0)
    runner = CliRunner()
    env = {"HENCHMAN_REDIS_URL": cluster.url}
    listed = runner.invoke(main, ["retry", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "jid-a" in listed.output
    assert "jid-b" in listed.output
    stats = runner.invoke(main, ["stats"], env=env)
    assert stats.exit_code == 0, stats.output
