"""The health endpoint for orchestrators: ``henchman run --health-port P``.

A minimal HTTP server on a daemon thread (standard library only). Each route is a function
returning ``(status, body)``; the body is sent as JSON. The worker passes in ``/health`` (200
while heartbeats succeed, 503 otherwise) and anything else may add routes of its own, e.g. a
metrics exposition, by passing them in too.

:class:`BeatMonitor` is the pure part: it remembers the outcome of the last heartbeat and when it
happened, and says whether the process counts as healthy now.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from henchman.errors import ConfigError

log = logging.getLogger("henchman")

#: A route: returns the HTTP status and a JSON-serialisable body (or a :class:`Text`).
Route = Callable[[], tuple[int, Any]]


@dataclass(frozen=True, slots=True)
class Text:
    """A body sent as it is, with its content type (a metrics exposition, say)."""

    data: bytes
    content_type: str


@dataclass
class BeatMonitor:
    """Outcome of the latest heartbeat of one process.

    Healthy when the latest heartbeat succeeded and it is not older than ``stale_after`` seconds
    (a heartbeat thread that hangs counts as a failure too).
    """

    stale_after: float
    last_ok: bool = False
    last_at: float | None = None

    def record(self, ok: bool, now: float) -> None:
        """Remember one heartbeat's outcome."""
        self.last_ok = ok
        self.last_at = now

    def healthy(self, now: float) -> bool:
        """Whether the latest heartbeat succeeded recently enough."""
        return self.last_ok and self.last_at is not None and now - self.last_at <= self.stale_after

    def describe(self, now: float) -> dict[str, Any]:
        """A small JSON-ready view: healthy, whether the latest heartbeat succeeded, and seconds
        since it (so a reader tells a failing process from a silent one)."""
        age = None if self.last_at is None else round(now - self.last_at, 3)
        return {"healthy": self.healthy(now), "last_beat_ok": self.last_ok, "last_beat_age": age}


def stale_after(heartbeat_interval: float, redis_timeout: float) -> float:
    """How old a successful heartbeat may be before the process counts as unhealthy: two beats
    plus one Redis timeout (a beat in progress against a slow server is not yet a failure)."""
    return 2 * heartbeat_interval + redis_timeout


class HealthServer:
    """Serves ``routes`` over HTTP on ``host:port`` from a daemon thread."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        self.host = host
        self.requested_port = port
        self.routes = dict(routes)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Bind and serve; a port that cannot be bound is a :class:`ConfigError`."""
        handler = _handler_for(self.routes)
        try:
            self._server = ThreadingHTTPServer((self.host, self.requested_port), handler)
        except OSError as exc:
            raise ConfigError(
                f"--health-port {self.requested_port}: cannot listen on "
                f"{self.host}:{self.requested_port} ({exc.strerror or exc})"
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="henchman-health", daemon=True
        )
        self._thread.start()
        log.info("health endpoint listening on http://%s:%d/health", self.host, self.port)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler_for(routes: Mapping[str, Route]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                status, body = 404, {"error": "not found", "routes": sorted(routes)}
            else:
                try:
                    status, body = route()
                except Exception:
                    log.exception("health route %s failed", self.path)
                    status, body = 500, {"error": "route failed"}
            if isinstance(body, Text):
                data, content_type = body.data, body.content_type
            else:
                data, content_type = orjson.dumps(body), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Orchestrators probe every few seconds: keep the log quiet."""

    return Handler
