"""The Periodic page: schedules, next and last runs, pause/unpause and "enqueue
now" through CSRF-checked POSTs, history, and the leader marked on the Busy page."""

from __future__ import annotations

import time

import orjson

from henchman import keys
from henchman.periodic.enqueuer import TickEnqueuer
from henchman.periodic.lease import LeaderLease
from henchman.periodic_schedule import make_schedule
from tests.web.conftest import LiveUI, form_token

XSS = "<script>alert('p')</script>"


def seed(ui: LiveUI) -> None:
    schedule = make_schedule("0 9 * * mon-fri", "app.report", [XSS], name="morning",
                             tz="Asia/Tokyo")  # fmt: skip
    ui.redis.hset(keys.PERIODIC_SCHEDULES, "morning", schedule.to_json())
    LeaderLease(ui.redis, "host:1:abc", 30).hold()
    TickEnqueuer(ui.redis, "host:1:abc", []).enqueue(schedule, time.time() - 60, time.time())


def test_the_list_shows_schedules_with_zone_next_run_and_leader(ui: LiveUI) -> None:
    seed(ui)
    with ui.http() as http:
        html = http.get("/periodic").text
    assert "morning" in html
    assert "0 9 * * mon-fri" in html
    assert "Asia/Tokyo" in html
    assert " 09:00:00 JST" in html  # the next run, in the schedule's zone
    assert "host:1:abc" in html


def test_pause_unpause_and_enqueue_now_post_with_csrf(ui: LiveUI) -> None:
    seed(ui)
    with ui.http() as http:
        token = form_token(http, "/periodic")
        paused = http.post("/periodic/morning", data={"action": "pause", "csrf_token": token})
        assert paused.status_code == 303
        assert ui.redis.sismember(keys.PERIODIC_PAUSED, "morning")
        http.post("/periodic/morning", data={"action": "unpause", "csrf_token": token})
        assert not ui.redis.sismember(keys.PERIODIC_PAUSED, "morning")
        before = ui.redis.llen(keys.queue("default"))
        done = http.post("/periodic/morning", data={"action": "enqueue", "csrf_token": token})
        assert done.status_code == 303
        assert ui.redis.llen(keys.queue("default")) == before + 1


def test_actions_without_a_csrf_token_are_refused(ui: LiveUI) -> None:
    seed(ui)
    with ui.http() as http:
        http.get("/periodic")
        response = http.post("/periodic/morning", data={"action": "pause"})
    assert response.status_code == 403
    assert not ui.redis.sismember(keys.PERIODIC_PAUSED, "morning")


def test_schedule_page_shows_history_and_escapes_args(ui: LiveUI) -> None:
    seed(ui)
    with ui.http() as http:
        response = http.get("/periodic/morning")
    assert response.status_code == 200
    assert "History" in response.text
    assert "<script>alert" not in response.text
    assert orjson.loads(ui.redis.lindex(keys.periodic_history("morning"), 0))["kind"] == "tick"


def test_an_unknown_schedule_is_a_404(ui: LiveUI) -> None:
    with ui.http() as http:
        assert http.get("/periodic/nope").status_code == 404


def test_busy_page_marks_the_leader(ui: LiveUI) -> None:
    identity = "host:1:abc"
    info = orjson.dumps({"hostname": "host", "pid": 1, "identity": identity, "queues": ["default"]})
    ui.redis.sadd(keys.PROCESSES, identity)
    ui.redis.hset(identity, mapping={"info": info, "busy": 0, "beat": time.time()})
    LeaderLease(ui.redis, identity, 30).hold()
    with ui.http() as http:
        html = http.get("/busy").text
    assert 'title="Leader: enqueues periodic jobs">leader</span>' in html


def test_periodic_page_pauses_in_the_browser(ui: LiveUI, open_page) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_browser_pages import shoot

    seed(ui)
    page, _ = open_page()
    assert page.goto(ui.url + "/periodic").status == 200
    assert "Periodic" in page.inner_text("h1")
    shoot(page, "periodic")
    page.locator("button:has-text('Pause')").first.click()
    page.wait_for_selector("span.pill-warn:has-text('paused')")
    assert ui.redis.sismember(keys.PERIODIC_PAUSED, "morning")
    page.locator("a:has-text('morning')").first.click()
    page.wait_for_selector("h2:has-text('History')")
    assert XSS in page.inner_text("code.args")  # shown as text, never run
