"""Temporary files that survive an interruption.

A job that builds a big file (an export of hundreds of MB) names it in ``temp_files`` and writes
it at ``self.temp_file(name)``, a path in a private local directory. When the run ends without
completing (interrupted, or failed and due for a retry), each such file that exists is uploaded
to the job's store, and a manifest recording the files *and the cursor they match* is saved in
Redis (``henchman:it:<jid>:files``). The next run downloads them before ``build_enumerator``.

Resuming needs both the cursor and its files. The run resumes at the manifest's cursor, not the
state's: after a crash the state may be ahead of the last upload, and going back to the files'
cursor redoes that work instead of losing it. With no manifest, or a file missing or expired in
the store, the job starts over from the beginning (its progress set and ledger are cleared too).
On completion or cancellation the stored files, the manifest and the local directory go.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import redis

from henchman import keys
from henchman.iteration.stores import FileStore

log = logging.getLogger("henchman.iteration")


@dataclass(frozen=True, slots=True)
class Manifest:
    """Which files were offloaded, at which cursor, and when."""

    cursor: Any
    files: tuple[str, ...]
    saved_at: float

    def encode(self) -> bytes:
        return orjson.dumps({"cursor": self.cursor, "files": self.files, "saved_at": self.saved_at})

    @classmethod
    def decode(cls, raw: bytes | str | None) -> Manifest | None:
        """The manifest, or ``None`` if absent or unreadable."""
        if not raw:
            return None
        try:
            found = orjson.loads(raw)
            return cls(found["cursor"], tuple(found["files"]), float(found["saved_at"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    """Validate ``temp_files``: plain, distinct file names (they become store keys)."""
    for name in names:
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise ValueError(f"temp file name {name!r} must be a plain file name")
    if len(set(names)) != len(names):
        raise ValueError(f"temp file names must be distinct: {list(names)}")
    return tuple(names)


class TempFiles:
    """The temporary files of one run of one job."""

    def __init__(
        self,
        jid: str,
        names: Sequence[str],
        store: FileStore,
        connection: Callable[[], redis.Redis],
        *,
        ttl: float,
        clock: Callable[[], float] = time.time,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self.jid = jid
        self._files_key = layout.iteration_files(jid)
        self.names = check_names(names)
        self.store = store
        self.ttl = ttl
        self._connection = connection
        self._clock = clock
        self._directory: Path | None = None

    @property
    def directory(self) -> Path:
        """This run's private local directory (made on first use)."""
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix=f"henchman-{self.jid}-"))
        return self._directory

    def path(self, name: str) -> Path:
        """Where temp file ``name`` lives locally during this run."""
        if name not in self.names:
            raise KeyError(f"{name!r} is not one of this job's temp_files {list(self.names)}")
        return self.directory / name

    def _key(self, name: str) -> str:
        return f"{self.jid}/{name}"

    def restore(self, cursor: Any) -> tuple[Any, bool]:
        """Bring back the files of an earlier run. Returns the cursor to resume at and whether
        the job must start over (``(None, True)``: a cursor without its files)."""
        if cursor is None:
            return None, False
        manifest = Manifest.decode(self._connection().get(self._files_key))
        if manifest is None:
            log.warning("job %s: no offloaded files for cursor %r: starting over", self.jid, cursor)
            return None, True
        for name in manifest.files:
            if name not in self.names or not self.store.download(self._key(name), self.path(name)):
                log.warning(
                    "job %s: offloaded file %r is missing or expired: starting over", self.jid, name
                )
                return None, True
        return manifest.cursor, False

    def offload(self, cursor: Any) -> Manifest:
        """Upload every temp file that exists and save the manifest for ``cursor``; then drop
        the local directory."""
        present = tuple(name for name in self.names if self.path(name).is_file())
        for name in present:
            self.store.upload(self._key(name), self.path(name), ttl=self.ttl)
        manifest = Manifest(cursor, present, self._clock())
        self._connection().set(self._files_key, manifest.encode(), ex=max(int(self.ttl), 1))
        self.close()
        return manifest

    def discard(self) -> None:
        """The job is over: delete stored files, the manifest and the local directory."""
        for name in self.names:
            self.store.delete(self._key(name))
        self._connection().unlink(self._files_key)
        self.close()

    def close(self) -> None:
        """Remove the local directory (the stored copies stay)."""
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
