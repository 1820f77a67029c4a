"""The Web UI: an ASGI app over :mod:`henchman.api`, with Sidekiq's paths.

Needs the ``web`` extra (``pip install 'henchman[web]'``: Starlette, Jinja2, uvicorn)::

    from henchman.web import create_app

    ui = create_app(settings, password="s3cret")       # or auth=callback, read_only=True
    fastapi_app.mount("/henchman", ui)                  # Starlette/FastAPI

Django (ASGI) and Flask (WSGI) are covered in ``docs/web.md``: :func:`mount` puts the UI beside
another ASGI app under a prefix, and :mod:`henchman.web.wsgi` adapts it to WSGI.
"""

from __future__ import annotations

try:
    import jinja2  # noqa: F401
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the henchman Web UI needs the 'web' extra: pip install 'henchman[web]'"
        f" ({exc.name} is missing)"
    ) from exc

from henchman.web.app import create_app
from henchman.web.extension import Action, NotFound, Page, WebExtension
from henchman.web.mount import mount

__all__ = ["Action", "NotFound", "Page", "WebExtension", "create_app", "mount"]
