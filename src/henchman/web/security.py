"""Authentication, CSRF protection and security headers for the Web UI.

- **Authentication** is either a password (HTTP Basic: any user name, the password compared in
  constant time) or a callback ``auth(request) -> bool`` (sync or async) that the embedding app
  supplies, e.g. to check its own session. Without either, the UI trusts whoever reaches it: mount
  it behind the application's own authentication, or run ``henchman web`` on 127.0.0.1 only.
- **Host check** (against DNS rebinding) and **Origin check** (state-changing requests from
  another origin are refused): see :mod:`henchman.web.origin`. Both run here, for every route.
- **CSRF**: a signed double-submit token (:mod:`henchman.web.csrf`). Every response to a client
  without a session cookie sets one (random, ``HttpOnly``, ``SameSite=Strict``, scoped to the
  UI's path); every form carries ``HMAC(secret, session id)`` in a hidden field. Checked by
  :func:`csrf_ok` before any action runs.
- **Headers**: a Content-Security-Policy that allows only the UI's own script and stylesheet (no
  inline scripts, handlers or style attributes), framing denied, no sniffing, same-origin
  referrers, and ``no-store`` for pages (they show job data).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from henchman.web.csrf import CsrfSigner, valid_session_id
from henchman.web.origin import cross_origin_refusal, host_allowed, normalize_allowed

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "AuthCallback", "Guard", "csrf_ok", "route_path"]

log = logging.getLogger("henchman.web")

CSRF_COOKIE = "henchman_csrf"
CSRF_FIELD = "csrf_token"

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


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """Whether a POST carries, in its form field, the token signed for its session cookie."""
    signer: CsrfSigner | None = getattr(request.state, "csrf_signer", None)
    if signer is None:
        return False
    return signer.valid(request.cookies.get(CSRF_COOKIE), submitted)


class Guard:
    """ASGI middleware: Host check, authentication, Origin check, the CSRF session cookie and
    security headers, for every route of the UI (pages, actions, static files, extensions).

    ``allowed_hosts`` None skips the Host check (an embedding app does its own). ``secret``
    returns the CSRF signing secret; it may do I/O, runs in a thread, and is called until it
    succeeds once; None (read-only mode) means no session and no token: no action can pass.
    The token for the current request is put in ``request.state.csrf_token`` for templates,
    the signer in ``request.state.csrf_signer`` for :func:`csrf_ok`.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: Callable[[], bytes] | None,
        password: str | None = None,
        auth: AuthCallback | None = None,
        allowed_hosts: Sequence[str] | None = None,
    ) -> None:
        self.app = app
        self._password = password.encode() if password is not None else None
        self._auth = auth
        self._allowed_hosts = None if allowed_hosts is None else normalize_allowed(allowed_hosts)
        self._secret = secret
        self._signer: CsrfSigner | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        host = request.headers.get("host")
        if self._allowed_hosts is not None and not host_allowed(host, self._allowed_hosts):
            shown = repr(host[:100]) if host else "(none)"
            text = f"Bad Request: Host {shown} is not allowed (see --allowed-host)"
            await PlainTextResponse(text, status_code=400)(scope, receive, send)
            return
        if not await self._allowed(request):
            await _unauthorized(self._password is not None)(scope, receive, send)
            return
        refusal = cross_origin_refusal(request.method, request.headers)
        if refusal is not None:
            await PlainTextResponse(refusal, status_code=403)(scope, receive, send)
            return
        is_static = route_path(scope).startswith("/static/")
        session = request.cookies.get(CSRF_COOKIE)
        fresh = not valid_session_id(session)
        if fresh:
            session = CsrfSigner.new_session()
        assert session is not None
        signer = None if is_static else await self._get_signer()
        state = scope.setdefault("state", {})
        state["csrf_signer"] = signer
        state["csrf_token"] = signer.token(session) if signer is not None else ""
        cookie = _cookie(session, scope) if fresh and signer is not None else None

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

    async def _get_signer(self) -> CsrfSigner | None:
        """The signer, made once; None while the secret cannot be read (Redis down: the page
        itself then answers 503, and no action can pass the CSRF check)."""
        if self._signer is None and self._secret is not None:
            try:
                self._signer = CsrfSigner(await run_in_threadpool(self._secret))
            except redis.ResponseError as exc:  # e.g. an ACL user that may not write the key
                log.warning(
                    "web UI: cannot keep the CSRF secret in Redis (%s); using a secret of this "
                    "process only: pass create_app(secret=...) when several processes serve "
                    "the UI",
                    exc,
                )
                self._signer = CsrfSigner(secrets.token_bytes(32))
            except (redis.RedisError, OSError):  # unreachable: retried on the next request
                return None
        return self._signer

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
