"""The app factory: :func:`create_app` builds one ASGI app (Starlette) over one Redis.

Each page and action becomes a route whose endpoint runs the view in a worker thread (the admin
API is synchronous and the views are short), so the event loop of the hosting app never blocks on
Redis. Actions are checked before they run: never in read-only mode (403), never without a valid
CSRF token (403), only form-encoded bodies up to 16 MB. A Redis that cannot be reached gives a
503 page instead of a traceback.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2
import redis
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from henchman.config import Settings
from henchman.urls import mask_url
from henchman.web import format as fmt
from henchman.web.context import Tab, ViewContext, WebState
from henchman.web.extension import NotFound, ParamParser, View, WebExtension, text_param
from henchman.web.pages import CORE
from henchman.web.secret import given_secret, shared_secret
from henchman.web.security import CSRF_FIELD, AuthCallback, Guard, csrf_ok

__all__ = ["create_app"]

HERE = Path(__file__).parent
MAX_FORM_BYTES = 16 * 1024 * 1024
_FORM_TYPE = "application/x-www-form-urlencoded"


def create_app(
    config: Any = None,
    *,
    password: str | None = None,
    auth: AuthCallback | None = None,
    read_only: bool = False,
    extensions: Sequence[WebExtension] = (),
    poll_interval: float = 5.0,
    client: redis.Redis | None = None,
    clock: Callable[[], float] = time.time,
    secret: str | bytes | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The Web UI as an ASGI app, to mount under any prefix or serve with ``henchman web``.

    ``config`` is a :class:`~henchman.config.Settings`, a :class:`~henchman.Henchman` app (its
    settings are used) or None (settings loaded from pyproject/YAML/environment). ``client``
    overrides the Redis client the settings would open. ``password`` asks for HTTP Basic auth
    (any user name); ``auth(request) -> bool`` (sync or async) is checked first when given.
    ``read_only`` hides every button and refuses every action. ``extensions`` add pages and tabs
    (:class:`~henchman.web.WebExtension`). ``poll_interval`` is the dashboard's refresh in seconds.
    ``secret`` signs the CSRF tokens (default: a random secret kept in Redis and shared by every
    web process on it). ``allowed_hosts`` lists the ``Host`` names accepted (400 otherwise;
    ``.example.com`` matches subdomains, ``*`` anything); None, the default, leaves the Host
    check to the application the UI is mounted in.
    """
    settings = _settings(config)
    state = WebState(
        settings=settings,
        open_client=(lambda: client) if client is not None else _opener(settings),
        templates=_templates(extensions),
        tabs=[Tab(p.tab, p.path) for e in (CORE, *extensions) for p in e.pages if p.tab],
        read_only=read_only,
        poll_interval=poll_interval,
        redis_label=_label(settings, client),
        clock=clock,
    )
    routes: list[BaseRoute] = [
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        Route("/favicon.ico", _favicon),
    ]
    for extension in (CORE, *extensions):
        routes += [Route(p.path, _page(state, p.view, p.params), methods=["GET", "HEAD"])
                   for p in extension.pages]  # fmt: skip
        routes += [Route(a.path, _action(state, a.handler, a.params), methods=["POST"])
                   for a in extension.actions]  # fmt: skip
    signing_secret = given_secret(secret) if secret is not None else None

    def read_secret() -> bytes:
        return signing_secret if signing_secret is not None else shared_secret(state.redis)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                Guard,
                password=password,
                auth=auth,
                allowed_hosts=allowed_hosts,
                secret=None if read_only else read_secret,  # nothing to sign: no forms
            )
        ],
        lifespan=lifespan,
    )
    app.state.henchman = state
    return app


async def _favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico on pages without an icon link (plain-text errors)."""
    root = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{root}/static/favicon.svg", status_code=301)


def _settings(config: Any) -> Settings:
    if isinstance(config, Settings):
        return config
    if config is None:
        import os

        from henchman.config_loader import load_settings

        return load_settings(env=os.environ)
    found = getattr(config, "settings", None)  # a Henchman app
    if isinstance(found, Settings):
        return found
    raise TypeError(f"create_app() takes Settings, a Henchman app or None, not {config!r}")


def _opener(settings: Settings) -> Callable[[], redis.Redis]:
    def open_client() -> redis.Redis:
        from henchman.redis.connection import Connector

        return Connector(settings).sync()

    return open_client


def _label(settings: Settings, client: redis.Redis | None) -> str:
    if client is not None:
        kwargs = client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        return f"{where} db {kwargs.get('db', 0)}"
    if settings.redis_url is None:
        return f"embedded ({settings.home})"
    return mask_url(settings.redis_url)


def _templates(extensions: Sequence[WebExtension]) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(HERE / "templates")]
    loaders += [jinja2.FileSystemLoader(e.templates) for e in extensions if e.templates]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=fmt.number, duration=fmt.duration, kb=fmt.bytes_from_kb, cut=fmt.truncate,
        args=fmt.args_preview, pretty=fmt.pretty_json, exact=fmt.exact_time,
        job_args=fmt.display_args, args_cut=fmt.args_cut, preview=fmt.preview,
    )  # fmt: skip
    for extension in extensions:
        env.globals.update(extension.template_globals)
    return env


def _page(
    state: WebState, view: View, parsers: Mapping[str, ParamParser]
) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        ctx = ViewContext(request, state)
        problem = _parse_params(request, parsers)
        return await _run(view if problem is None else _not_found(problem), ctx)

    return endpoint


def _action(
    state: WebState, handler: View, parsers: Mapping[str, ParamParser]
) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        problem = _parse_params(request, parsers)
        if problem is not None:
            return await _run(_not_found(problem), ViewContext(request, state))
        if state.read_only:
            return PlainTextResponse("read-only mode: actions are disabled", status_code=403)
        if request.headers.get("content-type", "").split(";")[0].strip() != _FORM_TYPE:
            return PlainTextResponse("expected a form", status_code=415)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return PlainTextResponse("form too large", status_code=413)
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        token = form.get(CSRF_FIELD, [None])[0]
        if not csrf_ok(request, token):
            return PlainTextResponse(
                "CSRF check failed: reload the page and try again", status_code=403
            )
        return await _run(handler, ViewContext(request, state, form))

    return endpoint


def _parse_params(request: Request, parsers: Mapping[str, ParamParser]) -> str | None:
    """Parse the path parameters in place; the reason for a 404 if one is invalid."""
    params = request.scope.get("path_params", {})
    for name, text in list(params.items()):
        try:
            params[name] = parsers.get(name, text_param)(str(text))
        except NotFound as exc:
            return exc.message
        except (ValueError, TypeError, OverflowError):
            return f"No such page: {str(text)[:200]!r} is not a valid {name}."
    return None


def _not_found(message: str) -> View:
    def view(ctx: ViewContext) -> Response:
        return ctx.not_found(message)

    return view


async def _run(view: View, ctx: ViewContext) -> Response:
    def call() -> Response:
        try:
            return view(ctx)
        except NotFound as exc:
            return ctx.not_found(exc.message, exc.back)

    try:
        return await run_in_threadpool(call)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        html = ctx.state.templates.get_template("unavailable.html").render(
            redis_label=ctx.state.redis_label, error=str(exc)
        )
        return HTMLResponse(html, status_code=503)
