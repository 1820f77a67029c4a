"""List pages carry bounded previews, never whole payloads: a queue of jobs with huge arguments
renders a small page that says how much it cut, and deleting a job names it by a digest."""

from __future__ import annotations

import re
import time

import orjson

from henchman import keys
from henchman.api import JobRecord, Queue
from tests.web.conftest import LiveUI, form_token


def _job(jid: str, args: list[object]) -> bytes:
    now = time.time()
    return orjson.dumps(
        {"class": "BigJob", "args": args, "jid": jid, "queue": "big", "retry": True,
         "created_at": now, "enqueued_at": now}
    )  # fmt: skip


def _huge(ui: LiveUI, count: int = 2) -> list[bytes]:
    raws = [_job(f"{i:024x}", [list(range(1_000_000))]) for i in range(count)]
    ui.redis.sadd(keys.QUEUES, "big")
    ui.redis.lpush(keys.queue("big"), *raws)
    return raws


def test_a_queue_of_huge_jobs_renders_a_small_page_that_says_what_it_cut(ui: LiveUI) -> None:
    raws = _huge(ui)
    assert sum(map(len, raws)) > 13_000_000
    with ui.http() as http:
        html = http.get("/queues/big").text
    assert len(html.encode()) < 60_000  # was 26.5 MB: every payload base64-encoded in its form
    cut = re.findall(r"\(\+([\d,]+) characters\)", html)
    assert len(cut) == 2
    assert int(cut[0].replace(",", "")) > 6_000_000


def test_huge_unreadable_entries_are_previewed_too(ui: LiveUI) -> None:
    ui.redis.sadd(keys.QUEUES, "big")
    ui.redis.lpush(keys.queue("big"), b"{not json " + b"x" * 3_000_000)
    ui.redis.zadd(keys.DEAD, {b"<<" + b"y" * 3_000_000: time.time()})
    with ui.http() as http:
        queue_page = http.get("/queues/big").text
        dead_page = http.get("/morgue").text
    assert len(queue_page.encode()) < 60_000
    assert len(dead_page.encode()) < 60_000
    assert "characters)" in queue_page
    assert "characters)" in dead_page


def test_short_arguments_are_shown_whole_without_a_note(ui: LiveUI) -> None:
    ui.redis.lpush(keys.queue("big"), _job("a" * 24, [1, "two"]))
    ui.redis.sadd(keys.QUEUES, "big")
    with ui.http() as http:
        html = http.get("/queues/big").text
    assert "1,&#34;two&#34;" in html or '1,"two"' in html
    assert "characters)" not in html


def test_delete_from_the_list_finds_the_job_after_newer_pushes(ui: LiveUI) -> None:
    raws = [_job(f"{i:024x}", [i]) for i in range(30)]
    ui.redis.sadd(keys.QUEUES, "big")
    ui.redis.lpush(keys.queue("big"), *raws)  # index 0 is raws[29]
    target = raws[10]
    with ui.http() as http:
        html = http.get("/queues/big").text
        token = form_token(http)
        digest = JobRecord(target).digest
        assert f'value="{digest}"' in html
        assert target.decode() not in html
        index = Queue(ui.redis, "big").page(0, 30).index(JobRecord(target, queue="big"))
        newer = [_job(f"{i:024x}", [i]) for i in range(100, 700)]  # 600 newer jobs arrive
        ui.redis.lpush(keys.queue("big"), *newer)
        form = {"csrf_token": token, "digest": digest, "index": str(index), "page": "1"}
        response = http.post("/queues/big/delete", data=form)
    assert response.status_code == 303
    remaining = ui.redis.lrange(keys.queue("big"), 0, -1)
    assert target not in remaining
    assert len(remaining) == 629


def test_delete_of_a_job_that_already_ran_changes_nothing(ui: LiveUI) -> None:
    raws = [_job(f"{i:024x}", [i]) for i in range(3)]
    ui.redis.sadd(keys.QUEUES, "big")
    ui.redis.lpush(keys.queue("big"), *raws)
    gone = ui.redis.rpop(keys.queue("big"))  # a worker took the oldest
    assert gone is not None
    with ui.http() as http:
        form = {"csrf_token": form_token(http), "digest": JobRecord(gone).digest, "index": "2"}
        assert http.post("/queues/big/delete", data=form).status_code == 303
    assert ui.redis.llen(keys.queue("big")) == 2
