"""henchman's settings as a Django project gives them.

``HENCHMAN = {"redis_url": ..., "concurrency": 5, "queues": ["critical,3", "default"]}`` in the
Django settings holds any of henchman's settings, with the names of ``pyproject.toml``. The
usual sources still apply beneath it (``pyproject.toml`` / ``config/henchman.yml``, then the
``HENCHMAN_*`` and ``REDIS_URL`` environment variables); the Django dict wins over them, since
the settings module is where a Django project decides its configuration (read the environment
there if you want it to win).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from henchman.config import Settings
from henchman.errors import ConfigError

__all__ = ["SETTING", "django_settings", "henchman_settings"]

#: The Django setting holding henchman's settings.
SETTING = "HENCHMAN"


def django_settings() -> Any:
    from django.conf import settings

    return settings


def henchman_settings(conf: Any = None) -> Settings:
    """henchman's :class:`~henchman.config.Settings` for this Django project.

    Raises :class:`~henchman.errors.ConfigError` naming ``settings.HENCHMAN['key']`` for a bad
    value or an unknown name.
    """
    from henchman.config_loader import load_settings

    conf = conf if conf is not None else django_settings()
    given = getattr(conf, SETTING, {})
    if not isinstance(given, Mapping):
        raise ConfigError(f"settings.{SETTING} must be a dict of henchman settings")
    overrides = {str(k).removeprefix(":"): v for k, v in given.items()}
    return load_settings(
        env=os.environ,
        flags=overrides,
        flag_source=lambda name: f"settings.{SETTING}[{name!r}]",
    )
