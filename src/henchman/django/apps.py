"""The Django app config: at start-up, give the default henchman app the project's settings."""

from __future__ import annotations

from django.apps import AppConfig


class HenchmanConfig(AppConfig):
    """``INSTALLED_APPS = [..., "henchman.django"]``."""

    name = "henchman.django"
    label = "henchman"
    verbose_name = "henchman"

    def ready(self) -> None:
        from henchman.app import default_app
        from henchman.django import checks  # noqa: F401 - registers the system checks
        from henchman.django.conf import django_settings, henchman_settings
        from henchman.django.transaction import install_push_on_commit
        from henchman.errors import ConfigError

        try:
            settings = henchman_settings()
        except ConfigError:
            return  # reported by the system check henchman.E001, with the key that is wrong
        app = default_app()
        app.configure(settings)
        if getattr(django_settings(), "HENCHMAN_PUSH_ON_COMMIT", False) is True:
            install_push_on_commit(app)
        _link_from_the_admin()


def _link_from_the_admin() -> None:
    """Add a link to the Web UI on the admin's index page (when the admin is installed and the
    site has not chosen its own index template; the link shows once the URLs are included)."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib import admin

    if admin.site.index_template is None:
        admin.site.index_template = "henchman/admin_index.html"
