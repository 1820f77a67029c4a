"""The Web UI for WSGI frameworks (Flask, Django under WSGI, Pyramid, ...).

:func:`create_wsgi_app` wraps :func:`~henchman.web.create_app` with ``a2wsgi`` (part of the
``web`` extra), which runs the ASGI app on an event loop in a background thread. Mount it under a
prefix with Werkzeug's dispatcher; the prefix arrives as ``SCRIPT_NAME`` and every link follows::

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from henchman.web.wsgi import create_wsgi_app

    flask_app.wsgi_app = DispatcherMiddleware(
        flask_app.wsgi_app, {"/henchman": create_wsgi_app(settings, password="s3cret")}
    )
"""

from __future__ import annotations

from typing import Any

from henchman.web.app import create_app

__all__ = ["create_wsgi_app"]


def create_wsgi_app(config: Any = None, **options: Any) -> Any:
    """A WSGI callable serving the UI; takes the same arguments as ``create_app``."""
    try:
        from a2wsgi import ASGIMiddleware
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the WSGI adapter needs a2wsgi, part of the 'web' extra: pip install 'henchman[web]'"
        ) from exc
    return ASGIMiddleware(create_app(config, **options))  # type: ignore[arg-type]
