"""Web UI hardening over HTTP: signed CSRF tokens, the Origin check, the Host check (DNS
rebinding) and malformed ids, for every route the app has (built-in or extension)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from henchman import keys
from henchman.web import Action, Page, WebExtension, create_app
from tests.conftest import RedisDB
from tests.web.conftest import LiveUI, form_token, serve
from tests.web.sidekiq_data import seed_everything

# --- CSRF: tokens signed by the server, bound to the session ----------------------------------


def test_matching_cookie_and_field_are_refused_unless_the_server_signed_the_token(
    ui: LiveUI,
) -> None:
    ui.redis.sadd(keys.QUEUES, "default")
    planted = "A" * 43  # a page on another port of this host can set this cookie
    with ui.http(cookies={"henchman_csrf": planted}) as http:
        response = http.post("/queues/default", data={"action": "pause", "csrf_token": planted})
    assert response.status_code == 403
    assert not ui.redis.sismember(keys.PAUSED, "default")


def test_a_token_signed_for_another_session_is_refused(ui: LiveUI) -> None:
    ui.redis.sadd(keys.QUEUES, "default")
    with ui.http() as attacker:
        token = form_token(attacker)
    with ui.http() as victim:
        victim.get("/")  # has its own session cookie
        response = victim.post("/queues/default", data={"action": "pause", "csrf_token": token})
    assert response.status_code == 403
    assert not ui.redis.sismember(keys.PAUSED, "default")


def test_the_token_is_not_the_cookie(ui: LiveUI) -> None:
    with ui.http() as http:
        token = form_token(http)
        assert token
        assert token != http.cookies["henchman_csrf"]


def test_web_processes_on_one_redis_accept_each_others_forms(redis_db: RedisDB) -> None:
    redis_db.client.sadd(keys.QUEUES, "default")
    first, second = create_app(redis_db.settings()), create_app(redis_db.settings())
    with serve(first) as url_a, serve(second) as url_b:
        with httpx.Client(base_url=url_a) as http:
            token = form_token(http)
            cookie = http.cookies["henchman_csrf"]
        with httpx.Client(base_url=url_b, cookies={"henchman_csrf": cookie}) as http:
            response = http.post("/queues/default", data={"action": "pause", "csrf_token": token})
    assert response.status_code == 303
    assert redis_db.client.exists(keys.WEB_SECRET)
    for app in (first, second):
        app.state.henchman.close()


def test_an_explicit_secret_replaces_the_shared_one(make_ui: Callable[..., LiveUI]) -> None:
    ui = make_ui(secret="s" * 32)
    ui.redis.sadd(keys.QUEUES, "default")
    with ui.http() as http:
        token = form_token(http)
        response = http.post("/queues/default", data={"action": "pause", "csrf_token": token})
    assert response.status_code == 303
    assert not ui.redis.exists(keys.WEB_SECRET)


def test_a_short_secret_is_refused(redis_db: RedisDB) -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        create_app(redis_db.settings(), secret="short")


# --- Origin: state changes from another origin are refused ------------------------------------


def _pause(ui: LiveUI, **headers: str) -> httpx.Response:
    ui.redis.sadd(keys.QUEUES, "default")
    with ui.http() as http:
        token = form_token(http)
        return http.post(
            "/queues/default", data={"action": "pause", "csrf_token": token}, headers=headers
        )


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://127.0.0.1:1"},  # another port of the same host
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "cross-site"},
    ],
)
def test_a_valid_token_from_another_origin_is_refused(ui: LiveUI, headers: dict[str, str]) -> None:
    response = _pause(ui, **headers)
    assert response.status_code == 403
    assert "cross-origin" in response.text
    assert not ui.redis.sismember(keys.PAUSED, "default")


def test_a_same_origin_post_passes(ui: LiveUI) -> None:
    response = _pause(ui, origin=ui.url, **{"sec-fetch-site": "same-origin"})
    assert response.status_code == 303
    assert ui.redis.sismember(keys.PAUSED, "default")


def test_reading_pages_is_not_affected_by_origin(ui: LiveUI) -> None:
    with ui.http() as http:
        response = http.get("/queues", headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 200


# --- Host: DNS rebinding ------------------------------------------------------------------------


def test_with_allowed_hosts_another_host_name_is_a_400(make_ui: Callable[..., LiveUI]) -> None:
    ui = make_ui(allowed_hosts=["127.0.0.1", "localhost", "::1"])
    seed_everything(ui.redis, time.time())
    port = ui.url.rsplit(":", 1)[1]
    with ui.http() as http:
        rebound = http.get("/queues/default", headers={"host": f"evil.example:{port}"})
        assert rebound.status_code == 400
        assert "evil.example" in rebound.text
        assert "args" not in rebound.text
        assert http.get("/", headers={"host": f"localhost:{port}"}).status_code == 200
        assert http.get("/", headers={"host": f"[::1]:{port}"}).status_code == 200
        assert http.get("/").status_code == 200


def test_a_leading_dot_allows_subdomains(make_ui: Callable[..., LiveUI]) -> None:
    ui = make_ui(allowed_hosts=[".example.com"])
    with ui.http() as http:
        assert http.get("/", headers={"host": "ops.example.com"}).status_code == 200
        assert http.get("/", headers={"host": "example.com"}).status_code == 200
        assert http.get("/", headers={"host": "badexample.com"}).status_code == 400


def test_mounted_apps_leave_the_host_check_to_the_host_application(ui: LiveUI) -> None:
    with ui.http() as http:
        assert http.get("/", headers={"host": "anything.example"}).status_code == 200


# --- malformed ids: 404, never 500, on every route ----------------------------------------------

MALFORMED = ["nan-x", "nan-", "inf-x", "-inf-", "-", "x", "1e999-x", "%01", "%00x", "a" * 3000]


def _param_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every route with a path parameter."""
    found = []
    for route in app.routes:
        if isinstance(route, Route) and "{" in route.path:
            for method in sorted((route.methods or set()) - {"HEAD"}):
                found.append((method, route.path))
    return found


def _fill(template: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, template)


def _noop(ctx: Any) -> Any:
    return ctx.redirect("")


WIDGETS = WebExtension(
    name="widgets",
    pages=[Page("/widgets/{wid}", _noop, params={"wid": int})],
    actions=[Action("/widgets/{wid}", _noop)],
)


def test_every_route_with_an_id_answers_404_to_malformed_ids(
    make_ui: Callable[..., LiveUI],
) -> None:
    ui = make_ui(extensions=[WIDGETS])
    seed_everything(ui.redis, time.time())
    routes = _param_routes(ui.app)
    assert len(routes) >= 12
    with ui.http() as http:
        token = form_token(http)
        for method, template in routes:
            for value in MALFORMED:
                path = _fill(template, value)
                form = {"csrf_token": token, "action": "delete"}
                response = http.request(method, path, data=form)
                assert response.status_code != 500, (method, path)
                if "{key}" in template and "dead" not in template:
                    assert response.status_code == 404, (method, path)
    assert ui.redis.zcard(keys.RETRY) == 3


@pytest.mark.parametrize("path", ["/retries/nan-x", "/scheduled/nan-", "/morgue/inf-x"])
def test_a_malformed_job_key_is_a_404_page(ui: LiveUI, path: str) -> None:
    with ui.http() as http:
        token = form_token(http)
        page = http.get(path)
        action = http.post(path, data={"csrf_token": token, "action": "delete"})
    assert page.status_code == action.status_code == 404
    assert "not a valid key" in page.text


def test_an_unknown_bulk_verb_is_a_404(ui: LiveUI) -> None:
    with ui.http() as http:
        token = form_token(http)
        assert http.post("/retries/all/explode", data={"csrf_token": token}).status_code == 404


def test_an_extension_parser_makes_invalid_ids_404(make_ui: Callable[..., LiveUI]) -> None:
    ui = make_ui(extensions=[WIDGETS])
    with ui.http() as http:
        assert http.get("/widgets/12").status_code == 303
        assert http.get("/widgets/twelve").status_code == 404


def test_read_only_mode_writes_no_secret(make_ui: Callable[..., LiveUI]) -> None:
    ui = make_ui(read_only=True)
    with ui.http() as http:
        assert http.get("/queues").status_code == 200
        assert "henchman_csrf" not in http.cookies
    assert not ui.redis.exists(keys.WEB_SECRET)


def test_a_redis_user_that_may_not_write_the_secret_gets_a_per_process_one(
    redis_db: RedisDB,
) -> None:
    user = f"web-{time.monotonic_ns()}"
    rules = ["on", ">pw", "~*", "&*", "+@all", "-set"]  # may do anything but SET
    redis_db.client.execute_command("ACL", "SETUSER", user, *rules)
    redis_db.client.sadd(keys.QUEUES, "default")
    app = create_app(redis_db.settings(redis_url=f"{redis_db.url}&username={user}&password=pw"))
    try:
        with serve(app) as url, httpx.Client(base_url=url) as http:
            token = form_token(http)
            form = {"action": "pause", "csrf_token": token}
            assert http.post("/queues/default", data=form).status_code == 303
        assert redis_db.client.sismember(keys.PAUSED, "default")
        assert not redis_db.client.exists(keys.WEB_SECRET)
    finally:
        app.state.henchman.close()
        redis_db.client.execute_command("ACL", "DELUSER", user)
