"""What a view sees: :class:`ViewContext` (one request) over :class:`WebState` (one UI app).

Nothing here is module-level state: each :func:`~henchman.web.create_app` builds its own
:class:`WebState` with its own Redis client and template environment, so several UIs for several
Redis servers can live in one process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import jinja2
import orjson
import redis
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from henchman.api import Stats
from henchman.config import Settings
from henchman.version import __version__
from henchman.web import format as fmt
from henchman.web.security import CSRF_FIELD, route_path

if TYPE_CHECKING:
    from henchman.api.stats import StatsSummary
    from henchman.shards.admin import ShardAdmin

__all__ = ["Tab", "ViewContext", "WebState"]


@dataclass(frozen=True, slots=True)
class Tab:
    """A navigation link: ``path`` relative to the UI root."""

    label: str
    path: str


class WebState:
    """One UI app's configuration and resources (its Redis client is opened on first use)."""

    def __init__(
        self,
        *,
        settings: Settings,
        open_client: Callable[[], redis.Redis],
        templates: jinja2.Environment,
        tabs: Sequence[Tab],
        read_only: bool,
        poll_interval: float,
        redis_label: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.templates = templates
        self.tabs = tuple(tabs)
        self.read_only = read_only
        self.poll_interval = poll_interval
        self.redis_label = redis_label
        self.clock = clock
        self._open_client = open_client
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()
        self._shards: ShardAdmin | None = None

    @property
    def redis(self) -> redis.Redis:
        """The app's Redis client (a thread-safe pool), opened on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._open_client()
        return self._client

    @property
    def shards(self) -> ShardAdmin | None:
        """Views over every shard when ``shards`` are configured, else None (one server)."""
        if self._shards is None and self.settings.shards:
            from henchman.shards.admin import ShardAdmin  # only for a sharded setup

            default = self.redis
            with self._lock:
                if self._shards is None:
                    self._shards = ShardAdmin(self.settings, default)
        return self._shards

    def summary(self) -> StatsSummary:
        """The stats of the layout's header (summed over shards when sharded)."""
        shards = self.shards
        if shards is not None:
            return shards.summary(clock=self.clock)
        return Stats(self.redis, clock=self.clock).summary()

    def close(self) -> None:
        """Close the Redis client (the app opens a new one if used again)."""
        with self._lock:
            shards, self._shards = self._shards, None
            client, self._client = self._client, None
        if shards is not None:
            shards.close()
        if client is not None:
            client.close()


@dataclass(slots=True)
class ViewContext:
    """One request as a view sees it, with helpers to answer it."""

    request: Request
    state: WebState
    form: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def redis(self) -> redis.Redis:
        """The Redis client; use it through :mod:`henchman.api`."""
        return self.state.redis

    @property
    def settings(self) -> Settings:
        return self.state.settings

    @property
    def read_only(self) -> bool:
        return self.state.read_only

    @property
    def params(self) -> Mapping[str, Any]:
        """Path parameters (``{name}`` in the page's path), as the page's ``params`` parsers
        returned them (text for parameters without a parser)."""
        return self.request.path_params

    def now(self) -> float:
        """The app clock's current epoch seconds."""
        return self.state.clock()

    def query(self, name: str, default: str = "") -> str:
        """A query-string parameter, stripped."""
        return self.request.query_params.get(name, default).strip()

    def query_int(self, name: str, default: int, low: int, high: int) -> int:
        """An integer query parameter clamped to ``[low, high]``; ``default`` if unreadable."""
        try:
            value = int(self.request.query_params.get(name, default))
        except ValueError:
            return default
        return min(max(value, low), high)

    def form_value(self, name: str, default: str = "") -> str:
        """The first value of form field ``name``."""
        values = self.form.get(name)
        return values[0] if values else default

    def form_values(self, name: str) -> list[str]:
        """Every value of form field ``name`` (checkbox lists)."""
        return list(self.form.get(name, ()))

    # --- answers ------------------------------------------------------------------------------

    def url(self, *segments: object, **query: object) -> str:
        """A path inside the UI: ``url("queues", name)`` -> ``/<root>/queues/<quoted name>``."""
        root = self.request.scope.get("root_path", "").rstrip("/")
        path = "/".join(quote(str(s), safe="") for s in segments)
        kept = {k: v for k, v in query.items() if v is not None and v != ""}
        return f"{root}/{path}" + (f"?{urlencode(kept)}" if kept else "")

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """Render ``template`` inside the layout (navigation, summary bar, CSRF token)."""
        now = self.now()
        values = {**self._layout_values(now), **context}
        html = self.state.templates.get_template(template).render(values)
        return HTMLResponse(html, status_code=status)

    def redirect(self, *segments: object, **query: object) -> RedirectResponse:
        """303 See Other to a page of the UI (what an action answers)."""
        return RedirectResponse(self.url(*segments, **query), status_code=303)

    def json(self, data: Any) -> Response:
        """A JSON response."""
        return Response(orjson.dumps(data), media_type="application/json")

    def not_found(self, message: str, back: str = "") -> HTMLResponse:
        """A 404 page saying ``message`` with a link to ``back`` (a path in the UI)."""
        return self.render(
            "not_found.html", status=404, title="Not found", message=message,
            back=self.url(*[s for s in back.split("/") if s]),
        )  # fmt: skip

    def _layout_values(self, now: float) -> dict[str, Any]:
        path = route_path(self.request.scope)
        active = max(
            (t for t in self.state.tabs if _under(path, t.path)),
            key=lambda t: len(t.path),
            default=None,
        )
        root = self.request.scope.get("root_path", "").rstrip("/")
        return {
            "u": self.url,
            "href": lambda tab_path: root + tab_path,
            "static": lambda name: self.url("static", name, v=__version__),
            "csrf_field": CSRF_FIELD,
            "csrf_token": getattr(self.request.state, "csrf_token", ""),
            "read_only": self.read_only,
            "tabs": self.state.tabs,
            "active_tab": active,
            "summary": self.state.summary(),
            "version": __version__,
            "redis_label": self.state.redis_label,
            "poll_interval": self.state.poll_interval,
            "now": now,
            "when": lambda epoch: fmt.time_tag(epoch, now),
            "title": "",
        }


def _under(path: str, tab_path: str) -> bool:
    """Whether ``path`` belongs to the tab at ``tab_path`` (the dashboard only at the root)."""
    if tab_path == "/":
        return path in ("", "/")
    return path == tab_path or path.startswith(tab_path + "/")
