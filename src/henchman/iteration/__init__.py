"""Iterable jobs: interrupt and resume.

- :class:`IterableJob` (also ``henchman.IterableJob``): ``build_enumerator`` + ``each_iteration``;
  checkpoints in ``it-<jid>`` (Sidekiq 7.3 layout) and resumes where it stopped.
- :func:`cancel` (also ``henchman.cancel``): flag a job as cancelled.
- :mod:`~henchman.iteration.enumerators` (sequences, ranges, CSV) and
  :mod:`~henchman.iteration.keyset` (SQLAlchemy, Django): ready-made ``build_enumerator`` bodies.
- :mod:`~henchman.iteration.progress`: processed-id sets and row ledgers.
- :mod:`~henchman.iteration.stores` / :mod:`~henchman.iteration.offload`: temporary files kept
  across interruptions in a local directory or an S3-compatible bucket.

Module map: ``state`` (the hash, the per-item decisions, thin Redis I/O), ``loop`` (one run, sync
and asyncio shells), ``job`` (the class users subclass), ``cancel``, ``progress``, ``offload``,
``stores``, ``enumerators``, ``keyset``. Testing helpers: :mod:`henchman.testing.iteration`.
"""

from henchman.iteration import enumerators, keyset
from henchman.iteration.cancel import cancel
from henchman.iteration.job import IterableJob
from henchman.iteration.progress import LedgerReport, ProcessedIds, RowLedger
from henchman.iteration.stores import FileStore, LocalFileStore, S3FileStore, store_from_url

__all__ = [
    "FileStore",
    "IterableJob",
    "LedgerReport",
    "LocalFileStore",
    "ProcessedIds",
    "RowLedger",
    "S3FileStore",
    "cancel",
    "enumerators",
    "keyset",
    "store_from_url",
]
