"""What runs around a worker process or a supervisor for the sake of deploys.

* the pidfile (``--pidfile``), written at start and removed at exit;
* the health endpoint (``--health-port``), answered from heartbeat outcomes;
* systemd notifications (``READY=1`` after the first heartbeat, ``STOPPING=1``, watchdog pings);
* for a supervised child: reporting heartbeats to the supervisor and stopping when it dies.

Only the main process (a single worker, or the supervisor) owns the pidfile, the health port and
the systemd socket; a supervised child only reports to its supervisor.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from henchman.server import parent_watch, pidfile, status_pipe
from henchman.server.health import BeatMonitor, HealthServer, Route, stale_after
from henchman.server.sd_notify import Notifier

if TYPE_CHECKING:
    from henchman.config import Settings
    from henchman.server.launcher import Launcher


class ProcessServices:
    """Pidfile, health server and systemd notifier of the main process."""

    def __init__(self, settings: Settings, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.notifier = Notifier(env)
        self.health: HealthServer | None = None
        self._pid = os.getpid()

    def start(self, routes: Mapping[str, Route]) -> None:
        """Write the pidfile and start the health server (if configured)."""
        settings = self.settings
        if settings.pidfile is not None:
            pidfile.write(settings.pidfile, self._pid)
        if settings.health_port is not None:
            self.health = HealthServer(settings.health_host, settings.health_port, routes)
            try:
                self.health.start()
            except Exception:
                self.close()
                raise

    def close(self) -> None:
        """Stop the health server and remove the pidfile."""
        if self.health is not None:
            self.health.stop()
            self.health = None
        if self.settings.pidfile is not None:
            pidfile.remove(self.settings.pidfile, self._pid)

    def attach(self, launcher: Launcher) -> Route:
        """Wire a single worker process: systemd notifications, and its ``/health`` route."""
        monitor = BeatMonitor(stale_after(self.settings.heartbeat_interval,
                                          self.settings.redis_timeout))  # fmt: skip
        notifier = self.notifier
        ready = [False]

        def on_beat(ok: bool) -> None:
            monitor.record(ok, time.monotonic())
            if ok and not ready[0]:
                ready[0] = notifier.ready(f"worker {launcher.identity}")
            notifier.watchdog()  # any outcome: the process is alive, not hung

        def on_stop() -> None:
            notifier.stopping()

        launcher.on_beat.append(on_beat)
        launcher.on_stop.append(on_stop)

        def route() -> tuple[int, Any]:
            now = time.monotonic()
            healthy = monitor.healthy(now) and not launcher.done.is_set()
            body = {
                "status": "ok" if healthy else "unhealthy",
                "pid": os.getpid(),
                "processes": [{"pid": os.getpid(), "up": True, **monitor.describe(now)}],
            }
            return (200 if healthy else 503), body

        return route


def attach_child(launcher: Launcher, env: Mapping[str, str]) -> None:
    """Wire a supervised child: report heartbeats on the status pipe, stop if the supervisor
    dies."""
    fd = env.get(status_pipe.STATUS_FD_ENV, "")
    if fd.isdigit():
        launcher.on_beat.append(status_pipe.writer(int(fd)))
    supervisor = env.get(parent_watch.SUPERVISOR_PID_ENV, "")
    if supervisor.isdigit():
        parent_watch.watch(int(supervisor), lambda: launcher.requests.put("TERM"))
