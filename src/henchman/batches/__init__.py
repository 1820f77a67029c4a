"""Batches (Sidekiq Pro's semantics) and the workflows built on them.

* :mod:`~henchman.batches.batch`: ``Batch`` and ``current_batch`` (the client side);
* :mod:`~henchman.batches.staging`: how a ``jobs()`` block is staged and committed at once;
* :mod:`~henchman.batches.finisher`: the server side, counting each job with its acknowledgement;
* :mod:`~henchman.batches.model`: ids, callback templates, the status snapshot (pure);
* :mod:`~henchman.batches.status`: ``BatchStatus``, a batch read in one round trip (the admin
  API re-exports it);
* :mod:`~henchman.batches.workflows`: ``chain``, ``group``, ``chord`` on top of batches;
* the accounting itself: ``redis/lua/batch_lib.lua``, ``batch_ack.lua``, ``batch_commit.lua``.
"""

from __future__ import annotations

from henchman.batches.batch import Batch, current_batch

__all__ = ["Batch", "current_batch"]
