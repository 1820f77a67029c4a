"""The extension mechanism: a test extension (a "Notes" tab backed by a Redis list) gets a tab,
the layout, CSRF-checked actions, read-only refusal and autoescaping, like a built-in page.
Batches, periodic jobs, limiters and iteration progress plug in the same way."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.responses import Response

from henchman import keys
from henchman.web import Action, Page, WebExtension
from henchman.web.context import ViewContext
from tests.web.conftest import SCREENSHOTS, LiveUI
from tests.web.sidekiq_data import XSS

NOTES_KEY = "test:notes"  # the test extension's own data, not a henchman key


def notes_page(ctx: ViewContext) -> Response:
    notes = [n.decode() for n in ctx.redis.lrange(NOTES_KEY, 0, -1)]
    return ctx.render("notes_page.html", title="Notes", notes=notes)


def add_note(ctx: ViewContext) -> Response:
    ctx.redis.rpush(NOTES_KEY, ctx.form_value("text"))
    return ctx.redirect("notes")


NOTES = WebExtension(
    name="notes",
    pages=[Page("/notes", notes_page, tab="Notes")],
    actions=[Action("/notes", add_note)],
    templates=Path(__file__).parent / "extension_templates",
    template_globals={"shout": lambda text: text.upper()},
)


def test_extension_page_has_a_tab_and_the_layout(
    make_ui: Callable[..., LiveUI], open_page: Any
) -> None:
    ui = make_ui(extensions=[NOTES])
    page, _ = open_page()
    page.goto(ui.url + "/")
    page.click("nav.tabs a:has-text('Notes')")
    assert page.url == ui.url + "/notes"
    assert page.get_attribute("nav.tabs a.active", "href") == "/notes"
    assert page.locator(".summary .stat").count() == 7


def test_extension_action_runs_and_escapes(make_ui: Callable[..., LiveUI], open_page: Any) -> None:
    ui = make_ui(extensions=[NOTES])
    page, _ = open_page()
    page.goto(ui.url + "/notes")
    page.fill("input[name=text]", XSS)
    page.click("button:has-text('Add note')")
    page.wait_for_url(ui.url + "/notes")
    assert ui.redis.lrange(NOTES_KEY, 0, -1) == [XSS.encode()]
    assert page.inner_text("ul.notes li") == XSS.upper()  # shown as text, not run
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "extension-page.png"), full_page=True)


def test_extension_actions_need_the_csrf_token(make_ui: Callable[..., LiveUI]) -> None:
    ui = make_ui(extensions=[NOTES])
    with ui.http() as http:
        http.get("/notes")
        response = http.post("/notes", data={"text": "forged", "csrf_token": "f" * 43})
    assert response.status_code == 403
    assert ui.redis.llen(NOTES_KEY) == 0


def test_extension_actions_are_refused_in_read_only_mode(make_ui: Callable[..., LiveUI]) -> None:
    ui = make_ui(extensions=[NOTES], read_only=True)
    with ui.http() as http:
        page = http.get("/notes")
        token = http.cookies.get("henchman_csrf", "t" * 43)  # read-only: no session at all
        response = http.post("/notes", data={"text": "x", "csrf_token": token})
    assert "Add note" not in page.text
    assert response.status_code == 403
    assert ui.redis.llen(NOTES_KEY) == 0


def test_two_apps_in_one_process_show_their_own_redis(
    make_ui: Callable[..., LiveUI], redis_db: Any, embedded_server: Any
) -> None:
    import redis as redis_lib

    from henchman.web import create_app
    from tests.conftest import DATABASES
    from tests.web.conftest import serve

    other_db = (redis_db.db + DATABASES // 2) % DATABASES
    other = redis_lib.Redis(unix_socket_path=str(embedded_server.socket_path), db=other_db)
    marker = f"other-{time.monotonic_ns()}"
    try:
        other.sadd("queues", marker)
        first = make_ui()
        with serve(create_app(redis_db.settings(), client=other)) as second_url:
            import httpx

            assert marker in httpx.get(second_url + "/queues").text
            assert marker not in httpx.get(first.url + "/queues").text
    finally:
        other.srem("queues", marker)
        other.delete(keys.WEB_SECRET)  # the second UI made its CSRF secret there
        other.close()
