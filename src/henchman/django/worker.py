"""``henchman run --django``: set Django up in the worker and import every installed app's
``jobs.py`` and ``tasks.py``, so jobs and ``@task`` functions need no ``-r``."""

from __future__ import annotations

import importlib
import os

from henchman.errors import ConfigError

__all__ = ["JOB_MODULES", "setup"]

#: Submodules of each installed app imported by the worker, when they exist.
JOB_MODULES = ("jobs", "tasks")


def setup() -> list[str]:
    """``django.setup()``, then import each app's job modules; returns the modules imported.

    Raises :class:`ConfigError` when Django is missing or ``DJANGO_SETTINGS_MODULE`` is unset;
    an app module that fails to import raises its own error (the CLI shows its traceback).
    """
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise ConfigError("--django needs DJANGO_SETTINGS_MODULE (e.g. mysite.settings)")
    try:
        import django
        from django.apps import apps
        from django.utils.module_loading import module_has_submodule
    except ImportError:
        raise ConfigError("--django needs Django: pip install 'henchman[django]'") from None
    django.setup()
    imported = []
    for config in apps.get_app_configs():
        if config.name == "henchman.django":
            continue  # its tasks.py is the Tasks backend, not an app's tasks
        for name in JOB_MODULES:
            if module_has_submodule(config.module, name):
                module = f"{config.name}.{name}"
                importlib.import_module(module)
                imported.append(module)
    return imported
