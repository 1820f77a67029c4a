"""Security in a real browser: a forged cross-site form, read-only mode, password auth, CSP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from henchman import keys
from tests.web.conftest import LiveUI, serve
from tests.web.sidekiq_data import seed_everything


def _attacker_site(target: str) -> Starlette:
    """A page on another site that auto-submits a form clearing the ``default`` queue; it can
    only guess the CSRF token."""

    async def page(_request: Any) -> HTMLResponse:
        return HTMLResponse(
            f"""<form id="f" method="post" action="{target}/queues/default">
            <input name="action" value="clear"><input name="csrf_token" value="{"A" * 43}">
            </form><script>document.getElementById("f").submit()</script>"""
        )

    async def no_icon(_request: Any) -> Response:
        return Response(status_code=204)

    return Starlette(routes=[Route("/", page), Route("/favicon.ico", no_icon)])


def test_forged_cross_site_post_is_rejected(ui: LiveUI, open_page: Any) -> None:
    seed_everything(ui.redis, time.time())
    page, problems = open_page()
    problems.expect_refusals()
    page.goto(ui.url + "/queues")  # the victim has the UI open: the token cookie is set
    with serve(_attacker_site(ui.url), host="localhost") as evil:
        with page.expect_response(f"{ui.url}/queues/default") as submitted:
            page.goto(evil + "/")
        assert submitted.value.status == 403
    assert ui.redis.llen(keys.queue("default")) == 5


def test_post_from_the_ui_origin_without_the_token_is_rejected(ui: LiveUI, open_page: Any) -> None:
    seed_everything(ui.redis, time.time())
    page, problems = open_page(bypass_csp=True)  # the CSP forbids the tampering script
    problems.expect_refusals()
    page.goto(ui.url + "/queues")
    page.locator("tr", has_text="mailers").locator("input[name=csrf_token]").evaluate(
        "node => { node.value = 'x'.repeat(43) }"
    )
    page.locator("tr", has_text="mailers").locator("button", has_text="Pause").click()
    assert "CSRF check failed" in page.inner_text("body")
    assert not ui.redis.sismember(keys.PAUSED, "mailers")


def test_read_only_mode_hides_buttons_and_refuses_actions(
    make_ui: Callable[..., LiveUI], open_page: Any
) -> None:
    ui = make_ui(read_only=True)
    seed_everything(ui.redis, time.time())
    page, _ = open_page()
    for path in ("/busy", "/queues", "/queues/default", "/retries", "/scheduled", "/morgue"):
        page.goto(ui.url + path)
        assert page.locator("main form[method=post]").count() == 0, path
        assert page.locator("main input[type=checkbox]").count() == 0, path
    assert page.inner_text(".topbar .pill") == "read-only"
    token = "t" * 43
    with ui.http(cookies={"henchman_csrf": token}) as http:
        response = http.post("/queues/default", data={"action": "clear", "csrf_token": token})
    assert response.status_code == 403
    assert ui.redis.llen(keys.queue("default")) == 5


def test_password_protects_every_page(make_ui: Callable[..., LiveUI], open_page: Any) -> None:
    ui = make_ui(password="correct horse")
    with ui.http() as http:
        refused = http.get("/")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    page, _ = open_page(http_credentials={"username": "admin", "password": "correct horse"})
    assert page.goto(ui.url + "/").status == 200
    assert page.goto(ui.url + "/static/henchman.css").status == 200


def test_wrong_password_is_refused(make_ui: Callable[..., LiveUI], open_page: Any) -> None:
    ui = make_ui(password="correct horse")
    page, problems = open_page(http_credentials={"username": "admin", "password": "wrong"})
    problems.expect_refusals()
    assert page.goto(ui.url + "/queues").status == 401


def _same_host_attacker(target: str) -> Starlette:
    """A page on another port of the UI's host: cookies ignore ports, so it can plant a token
    cookie of its choosing for the UI, then post a form carrying the same value."""
    planted = "A" * 43

    async def page(_request: Any) -> HTMLResponse:
        return HTMLResponse(
            f"""<form id="f" method="post" action="{target}/queues/default">
            <input name="action" value="clear"><input name="csrf_token" value="{planted}">
            </form><script>document.cookie = "henchman_csrf={planted}; path=/";
            document.getElementById("f").submit()</script>"""
        )

    async def no_icon(_request: Any) -> Response:
        return Response(status_code=204)

    return Starlette(routes=[Route("/", page), Route("/favicon.ico", no_icon)])


def test_a_page_on_another_port_cannot_forge_a_post_with_a_planted_cookie(
    ui: LiveUI, open_page: Any
) -> None:
    seed_everything(ui.redis, time.time())
    page, problems = open_page()
    problems.expect_refusals()
    with serve(_same_host_attacker(ui.url)) as evil:  # 127.0.0.1, another port
        with page.expect_response(f"{ui.url}/queues/default") as submitted:
            page.goto(evil + "/")
        assert submitted.value.status == 403
    assert ui.redis.llen(keys.queue("default")) == 5
