"""henchman for Django: add ``"henchman.django"`` to ``INSTALLED_APPS``.

- settings from ``HENCHMAN = {...}`` in the Django settings (the same names as in
  ``pyproject.toml``), checked by Django's system checks (``manage.py check``);
- :func:`enqueue_on_commit` pushes a job when the current transaction commits, and
  ``HENCHMAN_PUSH_ON_COMMIT = True`` makes every push made inside an atomic block wait for it;
- :class:`TaskBackend`, a backend for Django's Tasks framework (``django.tasks`` in Django 6, the
  ``django-tasks`` backport before), so ``@task`` functions run on henchman workers;
- ``henchman run --django`` sets Django up and imports every installed app's ``jobs.py`` and
  ``tasks.py``;
- the Web UI under a URL of the site, for staff only (:mod:`henchman.django.urls`), linked from
  the admin's index page.

Nothing here is imported by henchman itself; the names below load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TaskBackend", "enqueue_on_commit"]


def __getattr__(name: str) -> Any:
    # Lazy, so that ``import henchman.django`` (and INSTALLED_APPS) never needs django.tasks.
    if name == "TaskBackend":
        from henchman.django.tasks import TaskBackend

        return TaskBackend
    if name == "enqueue_on_commit":
        from henchman.django.transaction import enqueue_on_commit

        return enqueue_on_commit
    raise AttributeError(f"module 'henchman.django' has no attribute {name!r}")
