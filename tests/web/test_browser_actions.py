"""Every action clicked in headless Chromium, checked against what it changed in Redis."""

from __future__ import annotations

import time
from typing import Any

from henchman import keys
from tests.web.conftest import LiveUI
from tests.web.sidekiq_data import JIDS, seed_everything


def _seeded(ui: LiveUI, open_page: Any, path: str) -> Any:
    seed_everything(ui.redis, time.time())
    page, _ = open_page()
    page.goto(ui.url + path)
    return page


def _queue_jids(ui: LiveUI, queue: str) -> str:
    return b" ".join(ui.redis.lrange(keys.queue(queue), 0, -1)).decode(errors="replace")


def test_quiet_and_stop_one_process(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/busy")
    row = page.locator("tr", has_text="ruby-8:303:cccc")
    row.locator("button", has_text="Quiet").click()
    page.wait_for_url(f"{ui.url}/busy")
    page.locator("tr", has_text="ruby-8:303:cccc").locator("button", has_text="Stop").click()
    page.wait_for_url(f"{ui.url}/busy")
    assert ui.redis.lrange(keys.process_signals("ruby-8:303:cccc"), 0, -1) == [b"TERM", b"TSTP"]


def test_quiet_all_signals_every_process(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/busy")
    page.click("button:has-text('Quiet all')")
    page.wait_for_url(f"{ui.url}/busy")
    for identity in ("web-1:4242:0a1b2c3d4e5f", "ruby-64:101:aaaa", "ruby-7:202:bbbb"):
        assert ui.redis.lrange(keys.process_signals(identity), 0, -1) == [b"TSTP"]


def test_pause_unpause_and_clear_a_queue(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/queues")
    page.locator("tr", has_text="mailers").locator("button", has_text="Pause").click()
    page.wait_for_url(f"{ui.url}/queues")
    assert ui.redis.sismember(keys.PAUSED, "mailers")
    page.locator("tr", has_text="mailers").locator("button", has_text="Unpause").click()
    page.wait_for_url(f"{ui.url}/queues")
    assert not ui.redis.sismember(keys.PAUSED, "mailers")
    page.locator("tr", has_text="mailers").locator("button", has_text="Clear").click()
    page.wait_for_url(f"{ui.url}/queues")
    assert ui.redis.llen(keys.queue("mailers")) == 0
    assert not ui.redis.sismember(keys.QUEUES, "mailers")


def test_delete_one_job_from_a_queue(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/queues/default")
    page.locator("tr", has_text=JIDS["q2"]).locator("button", has_text="Delete").click()
    page.wait_for_url(f"{ui.url}/queues/default")
    remaining = _queue_jids(ui, "default")
    assert JIDS["q2"] not in remaining
    assert JIDS["q1"] in remaining
    assert ui.redis.llen(keys.queue("default")) == 4


def test_delete_an_unreadable_job_from_a_queue(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/queues/default")
    page.locator("tr", has_text="unreadable").locator("button", has_text="Delete").click()
    page.wait_for_url(f"{ui.url}/queues/default")
    assert b'{"class":"Broken' not in ui.redis.lrange(keys.queue("default"), 0, -1)


def test_queue_pages_through_sixty_jobs(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/queues/mailers")
    assert page.locator("tbody tr").count() == 25
    page.click("nav.pager a:has-text('3')")
    assert page.locator("tbody tr").count() == 10
    page.click("a:has-text('Oldest first')")
    first = page.locator("tbody tr").first.inner_text()
    assert f"{0:024x}" in first  # the first job pushed is the head of the queue


def test_bulk_retry_selected_retries(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/retries")
    retry_now = page.locator(".bulk-bar button", has_text="Retry now")
    assert retry_now.is_disabled()
    page.locator("tr", has_text=JIDS["r1"]).locator("input[name=key]").check()
    page.locator("tr", has_text=JIDS["r2"]).locator("input[name=key]").check()
    assert page.inner_text("[data-selected-count]") == "2 selected"
    retry_now.click()
    page.wait_for_url(f"{ui.url}/retries")
    assert ui.redis.zcard(keys.RETRY) == 1
    assert JIDS["r1"] in _queue_jids(ui, "default")
    assert JIDS["r2"] in _queue_jids(ui, "default")


def test_select_all_then_kill(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/retries")
    page.check("[data-select-all]")
    page.click(".bulk-bar button:has-text('Kill')")
    page.wait_for_url(f"{ui.url}/retries")
    assert ui.redis.zcard(keys.RETRY) == 0
    assert ui.redis.zcard(keys.DEAD) == 5


def test_kill_from_the_detail_page(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/retries")
    page.locator("tr", has_text=JIDS["r2"]).locator("a.strong").click()
    page.click("button:has-text('Kill')")
    page.wait_for_url(f"{ui.url}/retries")
    dead = b" ".join(ui.redis.zrange(keys.DEAD, 0, -1)).decode(errors="replace")
    assert JIDS["r2"] in dead
    assert ui.redis.zcard(keys.RETRY) == 2


def test_add_a_scheduled_job_to_its_queue(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/scheduled")
    page.locator("tr", has_text=JIDS["s1"]).locator("a.strong").click()
    page.click("button:has-text('Add to queue')")
    page.wait_for_url(f"{ui.url}/scheduled")
    assert JIDS["s1"] in _queue_jids(ui, "default")
    assert ui.redis.zcard(keys.SCHEDULE) == 1


def test_delete_all_scheduled(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/scheduled")
    page.click("button:has-text('Delete all')")
    page.wait_for_url(f"{ui.url}/scheduled")
    assert ui.redis.zcard(keys.SCHEDULE) == 0
    assert "No scheduled jobs." in page.inner_text("main")


def test_retry_all_dead_jobs(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/morgue")
    page.click("button:has-text('Retry now all')")
    page.wait_for_url(f"{ui.url}/morgue")
    assert ui.redis.zcard(keys.DEAD) == 0
    assert JIDS["d1"] in _queue_jids(ui, "default")


def test_filter_narrows_the_list(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/retries")
    page.fill("input[name=substr]", "Net::ReadTimeout")
    page.click("form.filter button")
    assert page.locator("tbody tr").count() == 1
    assert JIDS["r2"] in page.inner_text("tbody")
    assert "substr=Net" in page.url


def test_dead_alias_lands_on_the_morgue(ui: LiveUI, open_page: Any) -> None:
    page = _seeded(ui, open_page, "/dead")
    assert page.url == f"{ui.url}/morgue"
    assert page.inner_text("h1").startswith("Dead")
