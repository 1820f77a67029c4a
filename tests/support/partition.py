"""A TCP proxy a test runs in-process between a worker and Redis, to partition the network.

The proxy listens on 127.0.0.1 and forwards each connection to the server's Unix socket. While
:meth:`PartitionProxy.partition` is in force it stops moving bytes in either direction and leaves
new connections waiting, as a network that drops packets does: nothing is refused or reset, the
client's commands stay in flight and time out. When the partition heals, whatever was sent meanwhile
is delivered late, just as TCP retransmits it after a real partition.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Iterator
from pathlib import Path


class PartitionProxy:
    """Forwards 127.0.0.1:<port> to a Unix socket; can stop forwarding for a while."""

    def __init__(self, unix_path: Path) -> None:
        self._target = str(unix_path)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.port = int(self._listener.getsockname()[1])
        self._open = threading.Event()
        self._open.set()
        self._closing = threading.Event()
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._thread = threading.Thread(target=self._serve, name="partition-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @contextlib.contextmanager
    def partition(self) -> Iterator[None]:
        """No byte crosses the proxy inside this block; everything sent meanwhile arrives after."""
        self._open.clear()
        try:
            yield
        finally:
            self._open.set()

    def close(self) -> None:
        self._closing.set()
        self._thread.join(5)
        for sock in [self._listener, *self._pairs]:
            with contextlib.suppress(OSError):
                sock.close()

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        while not self._closing.is_set():
            if not self._open.is_set():
                self._open.wait(0.05)  # partitioned: read nothing, accept nothing
                continue
            for key, _ in selector.select(0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept(selector)
                else:
                    self._pump(selector, sock)
        selector.close()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(self._target)
        for sock in (client, upstream):
            sock.setblocking(True)
            selector.register(sock, selectors.EVENT_READ)
        self._pairs[client], self._pairs[upstream] = upstream, client

    def _pump(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        peer = self._pairs.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(65536)
            if data:
                peer.sendall(data)
                return
        except OSError:
            pass
        for end in (sock, peer):  # one side closed: close both
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(end)
            self._pairs.pop(end, None)
            with contextlib.suppress(OSError):
                end.close()
