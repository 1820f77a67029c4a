"""The Web UI inside a Django site, behind Django's authentication.

``path("henchman/", include("henchman.django.urls"))`` serves the UI under ``/henchman/`` to
users who may see it: staff by default; ``HENCHMAN_WEB_ACCESS = "superuser"`` or a callable
``(user) -> bool`` decide otherwise. Anonymous users are sent to the admin's login page (or
``LOGIN_URL``); signed-in users without access get 403. The UI keeps its own CSRF protection on
its forms, so Django's CSRF middleware is not applied to it. Works under WSGI and ASGI servers:
the request is handed to the UI's WSGI adapter with ``SCRIPT_NAME`` set to the mount point.
"""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import csrf_exempt

__all__ = ["allowed", "web_view"]

_lock = threading.Lock()
_ui: list[Any] = []  # the WSGI app, made once per process on the first request


def _wsgi_app() -> Any:
    with _lock:
        if not _ui:
            from henchman.app import default_app
            from henchman.web.wsgi import create_wsgi_app

            _ui.append(create_wsgi_app(default_app().settings))
        return _ui[0]


def allowed(user: Any) -> bool:
    """Whether ``user`` may use the UI, by ``settings.HENCHMAN_WEB_ACCESS``."""
    rule: str | Callable[[Any], bool] = getattr(settings, "HENCHMAN_WEB_ACCESS", "staff")
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if callable(rule):
        return bool(rule(user))
    if rule == "superuser":
        return bool(user.is_superuser)
    return bool(user.is_staff)


def _login_url() -> str:
    try:
        return str(reverse("admin:login"))
    except NoReverseMatch:
        return str(settings.LOGIN_URL)


@csrf_exempt  # type: ignore[untyped-decorator]
def web_view(request: HttpRequest, path: str = "") -> HttpResponse:
    """Hand the request to the Web UI (see the module docstring)."""
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return redirect_to_login(request.get_full_path(), _login_url())
    if not allowed(user):
        return HttpResponseForbidden("You may not see the henchman dashboard.")
    mount = request.path[: len(request.path) - len(path)].rstrip("/")
    environ = _environ(request, mount, "/" + path)
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    chunks = iter(_wsgi_app()(environ, start_response))
    first = next(chunks, b"")  # the adapter calls start_response with the first chunk
    response = StreamingHttpResponse(
        itertools.chain([first], chunks), status=int(captured["status"].split()[0])
    )
    for name, value in captured["headers"]:
        response[name] = value
    return response


def _environ(request: HttpRequest, script_name: str, path_info: str) -> dict[str, Any]:
    body = request.body
    environ = {k: v for k, v in request.META.items() if isinstance(k, str)}
    environ.update({
        "REQUEST_METHOD": request.method or "GET",
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": request.META.get("QUERY_STRING", ""),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": request.scheme or "http",
        "wsgi.version": (1, 0),
        "wsgi.errors": environ.get("wsgi.errors") or io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "SERVER_NAME": environ.get("SERVER_NAME") or request.get_host().split(":")[0],
        "SERVER_PORT": str(environ.get("SERVER_PORT") or request.get_port()),
    })  # fmt: skip
    return environ
