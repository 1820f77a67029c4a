"""A small Django project for henchman's Django tests (SQLite, the henchman Tasks backend).

Run by tests/django_suite in a process of its own (Django's settings are per process), with
``HENCHMAN_REDIS_URL`` and ``DJANGO_DB`` set by that suite."""

import os

SECRET_KEY = "henchman-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "tests.django_project.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "henchman.django",
    "tests.django_project.shop",
]
try:  # Django < 6: the backport provides the Tasks framework
    import django.tasks  # noqa: F401
except ImportError:
    INSTALLED_APPS.append("django_tasks")

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB", ":memory:"),
    }
}

HENCHMAN = {
    "redis_url": os.environ.get("HENCHMAN_REDIS_URL"),
    "heartbeat_interval": 0.5,
    "poll_interval_average": 0.3,
    "fetch_timeout": 0.5,
    "queues": ["default", "emails"],
}
TASKS = {
    "default": {
        "BACKEND": "henchman.django.TaskBackend",
        "QUEUES": ["default", "emails"],
        "OPTIONS": {"RESULT_TTL": 600},
    }
}
