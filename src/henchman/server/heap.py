"""A worker process's start-up objects, moved out of the cyclic garbage collector's way.

Why: CPython's collector stops every thread of the process (it holds the GIL) while it walks the
objects of the generations it collects, and a full collection walks all of them: the imported
modules, the application, the clients. In a ``henchman run`` worker that is some 50,000 objects
that live as long as the process, and a full collection comes every few seconds of a busy drain:
it took 15-30 ms of CPU (30-60 ms of wall time on a loaded 2-core machine), in the middle of
some job, while every other thread waited. :func:`gc.freeze` after start-up moves them to a
generation the collector never walks, so a full collection walks only what came later.

Only ``henchman run`` does this, once, when everything is built and before the first job: an
embedded worker lives in someone else's process, whose heap is theirs to manage. Objects frozen
are still freed when nothing refers to them; only the cycle detection skips them, and the
collection just before the freeze has already freed the cycles start-up left behind.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect the garbage start-up left, then freeze every object alive; how many are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
