"""Serve the UI under a path prefix beside another ASGI app, for frameworks without a mount of
their own (Django's ``asgi.py``). Starlette and FastAPI use ``app.mount(prefix, ui)`` instead."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["mount"]


def mount(prefix: str, ui: ASGIApp, fallback: ASGIApp) -> ASGIApp:
    """An ASGI app sending HTTP requests under ``prefix`` (e.g. ``/henchman``) to ``ui`` and
    everything else (other paths, websockets, lifespan) to ``fallback``.

    The UI sees ``root_path`` extended by ``prefix``, so every link it renders stays under it.
    """
    prefix = "/" + prefix.strip("/")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root = scope.get("root_path", "")
            path: str = scope["path"]
            below = path[len(root) :] if root and path.startswith(root) else path
            if below == prefix or below.startswith(prefix + "/"):
                if not path.startswith(root):  # servers that give the path without root_path
                    path = root + path
                await ui({**scope, "root_path": root + prefix, "path": path}, receive, send)
                return
        await fallback(scope, receive, send)

    return app
