"""The Iteration page: progress of iterable jobs, their failed rows, cancel."""

from __future__ import annotations

import orjson

from henchman import keys
from henchman.web.security import CSRF_COOKIE
from tests.web.conftest import LiveUI, form_token

JID = "0123456789abcdef01234567"
XSS = "<script>alert('row')</script>"


def seed(ui: LiveUI) -> None:
    ui.redis.hset(keys.iteration_state(JID), mapping={"ex": 3, "c": '{"row": 42}', "rt": 12.5})
    ui.redis.expire(keys.iteration_state(JID), 3600)
    for row in (1, 2, 3):
        ui.redis.setbit(keys.iteration_rows(JID), row, 1)
    ui.redis.hset(keys.iteration_row_errors(JID), "7", orjson.dumps(["bad email", XSS]))


def test_the_list_shows_every_iterable_job_with_its_progress(ui: LiveUI) -> None:
    seed(ui)
    with ui.http() as http:
        html = http.get("/iteration").text
    assert JID in html
    assert "{&#34;row&#34;: 42}" in html or '{"row": 42}' in html or "&#34;row&#34;" in html


def test_a_jobs_page_shows_its_failed_rows_escaped(ui: LiveUI) -> None:
    seed(ui)
    with ui.http() as http:
        response = http.get(f"/iteration/{JID}")
    assert response.status_code == 200
    assert "bad email" in response.text
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert" in response.text


def test_an_unknown_job_is_a_404(ui: LiveUI) -> None:
    with ui.http() as http:
        assert http.get("/iteration/" + "f" * 24).status_code == 404


def test_cancel_marks_the_job_cancelled(ui: LiveUI) -> None:
    seed(ui)
    with ui.http() as http:
        token = form_token(http, f"/iteration/{JID}")
        response = http.post(f"/iteration/{JID}", data={"action": "cancel", "csrf_token": token})
    assert response.status_code == 303
    assert ui.redis.hexists(keys.iteration_state(JID), "cancelled")


def test_read_only_mode_hides_and_refuses_cancel(make_ui) -> None:  # type: ignore[no-untyped-def]
    ui = make_ui(read_only=True)
    seed(ui)
    with ui.http() as http:
        page = http.get(f"/iteration/{JID}").text
        token = http.cookies.get(CSRF_COOKIE, "")
        response = http.post(f"/iteration/{JID}", data={"action": "cancel", "csrf_token": token})
    assert ">Cancel<" not in page
    assert response.status_code == 403
    assert not ui.redis.hexists(keys.iteration_state(JID), "cancelled")


def test_iteration_pages_load_cleanly_in_the_browser(ui: LiveUI, open_page) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_browser_pages import shoot

    seed(ui)
    page, _ = open_page()
    assert page.goto(ui.url + "/iteration").status == 200
    assert "Iteration" in page.inner_text("h1")
    shoot(page, "iteration")
    page.locator(f"a:has-text('{JID}')").first.click()
    page.wait_for_selector("h2:has-text('Failed rows')")
    assert XSS in page.inner_text("table")  # shown as text, never run
    shoot(page, "iteration-job")
