"""The one rule for queue names, applied wherever a name enters henchman: worker flags and config
(``-q``, ``queues:``), every push (sync and asyncio clients, bulk pushes, ``enqueue`` by name,
``henchman enqueue``) and the payload a client middleware hands back.

A queue name is a non-empty string without whitespace or control characters. Whitespace would
make ``-q "a b"`` and the ``HENCHMAN_QUEUES`` list ambiguous and is invisible in every listing;
control characters garble terminals and logs. Sidekiq sets no rule, so names written by Ruby that
break it are still shown and served by name; henchman only refuses to create them.
"""

from __future__ import annotations

import functools
import unicodedata

__all__ = ["check_queue_name", "queue_name_problem"]


def queue_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid queue name, or None when it is."""
    if not isinstance(name, str):
        return f"must be a string, not {type(name).__name__}"
    return _text_problem(name)


@functools.lru_cache(maxsize=1024)  # pushes name the same few queues again and again
def _text_problem(name: str) -> str | None:
    if not name:
        return "must not be empty"
    if any(ch.isspace() for ch in name):
        return "cannot hold whitespace"
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        return "cannot hold control characters"
    return None


def check_queue_name(name: object) -> str:
    """``name`` if valid, else ``ValueError("invalid queue name '...': <why>")``."""
    problem = queue_name_problem(name)
    if problem is not None:
        raise ValueError(f"invalid queue name {name!r}: {problem}")
    assert isinstance(name, str)
    return name
