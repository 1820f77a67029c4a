"""``--pidfile``: the main process's pid in a file, for scripts and ``henchman restart``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from henchman.errors import ConfigError


def write(path: Path, pid: int) -> None:
    """Write ``pid`` to ``path`` atomically (a reader never sees a half-written file)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{pid}.tmp")
    try:
        temporary.write_text(f"{pid}\n")
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise ConfigError(f"--pidfile {path}: cannot write it ({exc.strerror or exc})") from None


def remove(path: Path, pid: int) -> None:
    """Delete ``path`` if it still names ``pid`` (a newer process may have replaced it)."""
    with contextlib.suppress(OSError, ConfigError):
        if read(path) == pid:
            Path(path).unlink()


def read(path: Path) -> int:
    """The pid in ``path``; :class:`ConfigError` with one line when missing or malformed."""
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"--pidfile {path}: cannot read it ({exc.strerror or exc})") from None
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(f"--pidfile {path}: does not hold a process id, got {text[:40]!r}")
    return int(text)
