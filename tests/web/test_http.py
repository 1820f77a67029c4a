"""The Web UI over plain HTTP: headers, CSRF on every action, escaping, JSON endpoints, auth
callbacks, mounting under a prefix (Starlette, an ASGI dispatcher as in Django, WSGI)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from henchman import keys
from henchman.config import Settings
from henchman.web import create_app, mount
from henchman.web.security import CONTENT_SECURITY_POLICY
from tests.conftest import RedisDB
from tests.web.conftest import LiveUI, form_token, serve
from tests.web.sidekiq_data import JIDS, XSS, XSS_IMG, seed_everything

PAGES = ["/", "/busy", "/queues", "/queues/default", "/retries", "/scheduled", "/morgue",
         "/metrics", "/metrics/HardJob", f"/metrics/{XSS}"]  # fmt: skip


def test_pages_send_security_headers_and_a_csrf_cookie(ui: LiveUI) -> None:
    with ui.http() as http:
        response = http.get("/")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("henchman_csrf=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/" in cookie


@pytest.mark.parametrize("path", PAGES)
def test_hostile_strings_are_escaped(ui: LiveUI, path: str) -> None:
    seed_everything(ui.redis, time.time())
    with ui.http() as http:
        html = http.get(path).text
    assert "<script>alert" not in html
    assert "onerror=alert(1)>" not in html.replace("onerror=alert(1)&gt;", "")
    assert 'style="' not in html
    assert " on" + "click=" not in html
    assert html.count("<script") == html.count('<script src="') + html.count(
        '<script type="application/json"'
    )


def test_escaped_payloads_are_still_readable(ui: LiveUI) -> None:
    seed_everything(ui.redis, time.time())
    with ui.http() as http:
        html = http.get("/queues/default").text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html
    assert XSS_IMG not in html


def _post_routes(app: Any) -> list[str]:
    paths = []
    for route in app.routes:
        if "POST" in (getattr(route, "methods", None) or ()):
            paths.append(
                route.path.replace("{name:path}", "default").replace("{verb}", "delete")
                .replace("{key}", "1.5-abc")
            )  # fmt: skip
    return paths


def test_every_action_rejects_a_forged_token(ui: LiveUI) -> None:
    seed_everything(ui.redis, time.time())
    paths = _post_routes(ui.app)
    assert len(paths) >= 10
    with ui.http() as http:
        http.get("/")  # the real token is in the cookie jar now
        for path in paths:
            for token in ("", "A" * 43, "short"):
                response = http.post(path, data={"action": "clear", "csrf_token": token})
                assert response.status_code == 403, (path, token)
    assert ui.redis.llen(keys.queue("default")) == 5
    assert ui.redis.zcard(keys.RETRY) == 3


def test_an_action_without_the_cookie_is_rejected(ui: LiveUI) -> None:
    ui.redis.sadd(keys.QUEUES, "default")
    with ui.http() as http:
        token = form_token(http)
    with ui.http() as fresh:  # another client: same token in the form, no cookie
        response = fresh.post("/queues/default", data={"action": "pause", "csrf_token": token})
    assert response.status_code == 403
    assert not ui.redis.sismember(keys.PAUSED, "default")


def test_a_valid_action_redirects(ui: LiveUI) -> None:
    ui.redis.sadd(keys.QUEUES, "default")
    with ui.http() as http:
        token = form_token(http)
        response = http.post("/queues/default", data={"action": "pause", "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/queues"
    assert ui.redis.sismember(keys.PAUSED, "default")


def test_actions_only_take_forms(ui: LiveUI) -> None:
    with ui.http() as http:
        token = form_token(http)
        response = http.post("/queues/default", json={"action": "pause", "csrf_token": token})
    assert response.status_code == 415


def test_busy_page_shows_each_process_placement(ui: LiveUI) -> None:
    info = b'{"hostname": "h", "pid": 1, "concurrency": 10, "queues": ["default"]}'
    ui.redis.sadd(keys.PROCESSES, "h:1:abc")
    ui.redis.hset("h:1:abc", mapping={"info": info, "busy": 0, "beat": repr(time.time()),
                                      "quiet": "false", "placement": "auto: CPU 1"})  # fmt: skip
    with ui.http() as http:
        page = http.get("/busy").text
    assert "placement: auto: CPU 1" in page


def test_stats_json_has_sidekiqs_shape(ui: LiveUI) -> None:
    seed_everything(ui.redis, time.time())
    with ui.http() as http:
        stats = http.get("/stats").json()
        sizes = http.get("/stats/queues").json()
    assert stats["sidekiq"] == stats["henchman"]
    assert stats["henchman"]["processed"] == 912_345
    assert stats["henchman"]["retries"] == 3
    assert stats["henchman"]["dead"] == 2
    assert stats["henchman"]["busy"] == 4
    assert stats["henchman"]["processes"] == 4
    assert "redis_version" in stats["redis"]
    assert stats["server_utc_time"].endswith("UTC")
    assert sizes["mailers"] == 60
    assert next(iter(sizes)) == "mailers"


def test_unknown_job_key_is_a_404_page(ui: LiveUI) -> None:
    with ui.http() as http:
        missing = http.get("/retries/1700000000.5-" + JIDS["r1"])
        garbage = http.get("/morgue/not-a-key")
    assert missing.status_code == garbage.status_code == 404
    assert "may have run, moved or been deleted" in missing.text


def test_detail_key_is_sidekiqs_score_dash_jid(ui: LiveUI) -> None:
    now = time.time()
    seed_everything(ui.redis, now)
    with ui.http() as http:
        page = http.get(f"/retries/{now + 60.125!r}-{JIDS['r1']}")
    assert page.status_code == 200
    assert JIDS["r1"] in page.text


def test_filter_pages_with_next_link(ui: LiveUI) -> None:
    seed_everything(ui.redis, time.time())
    with ui.http() as http:
        html = http.get("/retries", params={"substr": "RuntimeError", "count": 1}).text
    assert html.count('name="key"') == 1
    assert 'rel="next"' in html


def test_auth_callback_decides(make_ui: Callable[..., LiveUI]) -> None:
    ui = make_ui(auth=lambda request: request.headers.get("x-user") == "ops")
    with ui.http() as http:
        assert http.get("/").status_code == 403
        assert http.get("/", headers={"x-user": "ops"}).status_code == 200


def test_async_auth_callback(make_ui: Callable[..., LiveUI]) -> None:
    async def allow(request: Any) -> bool:
        return request.cookies.get("session") == "good"

    ui = make_ui(auth=allow)
    with ui.http() as http:
        assert http.get("/queues").status_code == 403
    with ui.http(cookies={"session": "good"}) as http:
        assert http.get("/queues").status_code == 200


def test_mounted_in_starlette_under_a_prefix(redis_db: RedisDB) -> None:
    redis_db.client.sadd(keys.QUEUES, "default")
    ui = create_app(redis_db.settings())
    host = Starlette(routes=[Mount("/admin/jobs", app=ui),
                             Route("/", lambda r: PlainTextResponse("host app"))])  # fmt: skip
    with serve(host) as url, httpx.Client(base_url=url) as http:
        page = http.get("/admin/jobs/queues")
        assert page.status_code == 200
        assert 'href="/admin/jobs/queues/default"' in page.text
        assert 'src="/admin/jobs/static/henchman.js' in page.text
        assert "Path=/admin/jobs" in page.headers["set-cookie"]
        assert http.get("/admin/jobs/static/henchman.css").status_code == 200
        assert http.get("/").text == "host app"
        token = form_token(http, "/admin/jobs/queues")
        form = {"action": "pause", "csrf_token": token}
        done = http.post("/admin/jobs/queues/default", data=form)
        assert done.headers["location"] == "/admin/jobs/queues"
    assert redis_db.client.sismember(keys.PAUSED, "default")
    ui.state.henchman.close()


def test_mount_helper_for_django_style_asgi(redis_db: RedisDB) -> None:
    async def django(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("django")(scope, receive, send)

    ui = create_app(redis_db.settings())
    with serve(mount("/henchman", ui, django)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/other").text == "django"
        assert http.get("/henchmanx").text == "django"
        page = http.get("/henchman/busy")
        assert page.status_code == 200
        assert 'href="/henchman/queues"' in page.text
        assert http.get("/henchman", follow_redirects=True).status_code == 200
    ui.state.henchman.close()


def test_wsgi_adapter_serves_under_script_name(redis_db: RedisDB) -> None:
    from henchman.web.wsgi import create_wsgi_app

    app = create_wsgi_app(redis_db.settings())
    environ = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/henchman", "PATH_INFO": "/queues",
        "QUERY_STRING": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0), "wsgi.multithread": True,
        "wsgi.multiprocess": False, "wsgi.run_once": False,
    }  # fmt: skip
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, exc_info=None: status.append(s)))
    assert status == ["200 OK"]
    assert b'href="/henchman/busy"' in body


def test_unreachable_redis_is_a_503_page() -> None:
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0", redis_timeout=0.5))
    with serve(app) as url:
        response = httpx.get(url + "/queues")
    assert response.status_code == 503
    assert "Redis is not reachable" in response.text


def test_create_app_rejects_other_config() -> None:
    with pytest.raises(TypeError, match="Settings, a Henchman app or None"):
        create_app("redis://localhost")


def test_create_app_takes_a_henchman_app(app: Any) -> None:
    web = create_app(app)
    assert web.state.henchman.settings is app.settings
