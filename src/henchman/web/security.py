"""Authentication, CSRF protection and security headers for the Web UI (SPEC §14, §20).

- **Authentication** is either a password (HTTP Basic: any user name, the password compared in
  constant time) or a callback ``auth(request) -> bool`` (sync or async) that the embedding app
  supplies, e.g. to check its own session. Without either, the UI trusts whoever reaches it: mount
  it behind the application's own authentication, or run ``henchman web`` on 127.0.0.1 only.
- **CSRF**: the double-submit cookie pattern. Every response to a client without a valid token
  cookie sets one (random, ``HttpOnly``, ``SameSite=Strict``, scoped to the UI's path); every form
  carries the same token in a hidden field, and every POST must present both, equal. A page on
  another site can make a browser send the cookie (not with ``SameSite=Strict``) but can neither
  read it nor guess it, so it cannot forge the field. Checked by :func:`csrf_ok` before any action
  runs.
- **Headers**: a Content-Security-Policy that allows only the UI's own script and stylesheet (no
  inline scripts, handlers or style attributes), framing denied, no sniffing, same-origin
  referrers, and ``no-store`` for pages (they show job data).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import inspect
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "AuthCallback", "Guard", "csrf_ok", "route_path"]

CSRF_COOKIE = "henchman_csrf"
CSRF_FIELD = "csrf_token"
_TOKEN_BYTES = 32
_TOKEN_LENGTH = 43  # token_urlsafe(32)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}

#: Decides whether a request may see the UI; may be a coroutine function.
AuthCallback = Callable[[Request], bool | Awaitable[bool]]


def _valid_token(token: str | None) -> bool:
    return (
        token is not None
        and len(token) == _TOKEN_LENGTH
        and all(c.isalnum() or c in "-_" for c in token)
    )


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """Whether a POST carries the same valid token in its form field and its cookie."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not _valid_token(cookie) or not _valid_token(submitted):
        return False
    assert cookie is not None
    assert submitted is not None
    return hmac.compare_digest(cookie.encode(), submitted.encode())


class Guard:
    """ASGI middleware: authentication, the CSRF token cookie and security headers.

    The token for the current request is put in ``request.state.csrf_token`` for templates.
    """

    def __init__(
        self, app: ASGIApp, *, password: str | None = None, auth: AuthCallback | None = None
    ) -> None:
        self.app = app
        self._password = password.encode() if password is not None else None
        self._auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not await self._allowed(request):
            await _unauthorized(self._password is not None)(scope, receive, send)
            return
        token = request.cookies.get(CSRF_COOKIE)
        fresh = not _valid_token(token)
        if fresh:
            token = secrets.token_urlsafe(_TOKEN_BYTES)
        scope.setdefault("state", {})["csrf_token"] = token
        cookie = _cookie(token or "", scope) if fresh else None
        is_static = route_path(scope).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers[name] = value
                if not is_static:
                    headers["cache-control"] = "no-store"
                if cookie is not None:
                    headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _allowed(self, request: Request) -> bool:
        if self._auth is not None:
            verdict: Any = self._auth(request)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if not verdict:
                return False
        if self._password is not None:
            return _basic_password_matches(request, self._password)
        return True


def _basic_password_matches(request: Request, password: bytes) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    _, _, given = decoded.partition(b":")
    return hmac.compare_digest(given, password)


def route_path(scope: Scope) -> str:
    """The request path below the UI's root (``/queues/default`` wherever the UI is mounted)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _unauthorized(basic: bool) -> PlainTextResponse:
    if basic:
        headers = {"www-authenticate": 'Basic realm="henchman", charset="UTF-8"'}
        return PlainTextResponse("authentication required", status_code=401, headers=headers)
    return PlainTextResponse("forbidden", status_code=403)


def _cookie(token: str, scope: Scope) -> str:
    path = scope.get("root_path", "") or "/"
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return f"{CSRF_COOKIE}={token}; Path={path}; HttpOnly; SameSite=Strict{secure}"
