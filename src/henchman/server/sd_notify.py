"""systemd readiness notification (``Type=notify``) without a dependency.

The protocol is one datagram per message to the unix socket named by ``$NOTIFY_SOCKET`` (a path,
or an abstract socket when it starts with ``@``): ``READY=1`` when the service is up,
``STOPPING=1`` when a stop begins, ``STATUS=...`` free text, and ``WATCHDOG=1`` at least every
``$WATCHDOG_USEC`` microseconds when the unit sets ``WatchdogSec=``. Outside systemd (no
variable) every call does nothing.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping

log = logging.getLogger("henchman")

#: Variables a supervised child must not inherit: only the main process talks to systemd.
SYSTEMD_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Notifier:
    """Sends sd_notify messages to the socket named in ``env`` (if any)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        #: Seconds between watchdog pings systemd expects at the latest (None: no watchdog).
        self.watchdog_interval = int(usec) / 1_000_000 if usec.isdigit() and int(usec) else None
        self._failed = False

    @property
    def enabled(self) -> bool:
        """Whether a notify socket was given."""
        return bool(self.address)

    def send(self, *fields: str) -> bool:
        """Send ``fields`` (``"READY=1"``, ...) as one datagram; False if it could not be sent."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(fields).encode())
        except OSError as exc:
            if not self._failed:  # say it once, not every heartbeat
                log.warning("cannot notify systemd at %s: %s", self.address, exc)
                self._failed = True
            return False
        return True

    def ready(self, status: str) -> bool:
        """The service is up."""
        return self.send("READY=1", f"STATUS={status}")

    def stopping(self) -> bool:
        """A graceful stop has begun."""
        return self.send("STOPPING=1", "STATUS=stopping")

    def status(self, text: str) -> bool:
        """Free-text status shown by ``systemctl status``."""
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        """Tell the watchdog the service is alive (only when the unit asked for one)."""
        return self.send("WATCHDOG=1") if self.watchdog_interval else False
