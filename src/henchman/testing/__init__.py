"""Testing support for apps that use henchman. No global switches: each mode is a
context manager scoped to one app and one ``with`` block.

- :func:`recording` captures pushes instead of writing them; :class:`Recorder` lists them
  (``jobs``, ``jobs_for``) and runs them (``drain``) through the server middleware.
- :func:`inline` runs every pushed job at once, in the pushing thread.
- :func:`wait_until` polls a condition, for end-to-end tests against a real worker.
- :class:`IterationHarness` / :func:`run_with_interruptions` run an iterable job, interrupt it
  after N items, run it again, and check every item was processed exactly once.

The pytest plugin (:mod:`henchman.testing.pytest_plugin`, loaded automatically) adds the fixtures
``henchman_server``, ``henchman_settings``, ``henchman_app``, ``henchman_recorder`` and
``henchman_worker``.
"""

from __future__ import annotations

from henchman.testing.inline import inline
from henchman.testing.iteration import IterationHarness, run_with_interruptions
from henchman.testing.recorder import Recorder, recording
from henchman.testing.waiting import wait_until

__all__ = [
    "IterationHarness",
    "Recorder",
    "inline",
    "recording",
    "run_with_interruptions",
    "wait_until",
]
