"""Django system checks (``manage.py check``, and every ``runserver``/``migrate``) for henchman's
settings: a bad value is reported before the first push fails."""

from __future__ import annotations

from typing import Any

from django.core import checks

from henchman.django.conf import SETTING, django_settings, henchman_settings
from henchman.errors import ConfigError

__all__ = ["check_settings"]

_BOOLEAN_SETTINGS = ("HENCHMAN_PUSH_ON_COMMIT",)


@checks.register("henchman")  # type: ignore[untyped-decorator]
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Errors for henchman settings that would fail at the first push or at worker start."""
    conf = django_settings()
    found: list[checks.CheckMessage] = []
    try:
        henchman_settings(conf)
    except ConfigError as exc:
        found.append(
            checks.Error(str(exc), hint=f"Fix settings.{SETTING}.", id="henchman.E001")
        )
    for name in _BOOLEAN_SETTINGS:
        value = getattr(conf, name, False)
        if not isinstance(value, bool):
            found.append(
                checks.Error(f"settings.{name} must be True or False, got {value!r}",
                             id="henchman.E002")
            )  # fmt: skip
    permission = getattr(conf, "HENCHMAN_WEB_ACCESS", "staff")
    if permission not in ("staff", "superuser") and not callable(permission):
        found.append(
            checks.Error(
                "settings.HENCHMAN_WEB_ACCESS must be 'staff', 'superuser' or a callable "
                f"taking the user, got {permission!r}",
                id="henchman.E003",
            )
        )
    return found
