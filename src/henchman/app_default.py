"""The default application's seam: how every layer reaches ``henchman.default_app()``.

Features take an ``app=`` argument and fall back to the default application when it is omitted
(``@henchman.job``, ``henchman.Batch()``, ``henchman.crypto.configure``, limiters...). The
application class sits above them in the import layers, because it wires their middleware, so
they cannot import it: :mod:`henchman.app` provides its constructor here when it is imported,
which ``import henchman`` (and so any import of a henchman module) always does first. The
application is then made on first use, once, under a lock; it reads its settings lazily at its
first push, never at import time.

:data:`DEFAULT` is henchman's one explicit piece of module-level state (it was ``app.py``'s
``_default`` before): the process-wide default that the convenience API needs, and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from henchman.app import Henchman

__all__ = ["DEFAULT", "DefaultApp", "default_app"]


class DefaultApp:
    """Holds the default application: made by the provided factory on the first :meth:`get`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._factory: Callable[[], Henchman] | None = None
        self._app: Henchman | None = None

    def provide(self, factory: Callable[[], Henchman]) -> None:
        """Make the default application with ``factory`` (the app module calls this once)."""
        self._factory = factory

    def get(self) -> Henchman:
        """The default application, made now if this is the first use."""
        app = self._app
        if app is None:
            with self._lock:
                if self._app is None:
                    if self._factory is None:
                        raise RuntimeError("henchman.app was not imported: import henchman first")
                    self._app = self._factory()
                app = self._app
        return app


#: The process's default application (see the module docstring).
DEFAULT = DefaultApp()


def default_app() -> Henchman:
    """The explicit default application used by ``@henchman.job`` and ``henchman.enqueue``."""
    return DEFAULT.get()
