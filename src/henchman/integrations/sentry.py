"""Reporting job failures to Sentry through the error-handler hook (needs ``sentry-sdk``).

Every failure — a job that raised, a payload that could not be read, a job no worker
registered — goes through ``app.error_handlers``; :func:`report_errors` adds one that sends the
exception to Sentry with the job's class, queue, jid and retry count as tags and context.
The job's arguments are not added: they may hold personal data or secrets. Sentry itself sends
the local variables of each stack frame (the job function's arguments among them) unless
``sentry_sdk.init(include_local_variables=False)``; set it when arguments are sensitive.

::

    import sentry_sdk
    from henchman.integrations.sentry import report_errors

    sentry_sdk.init(dsn=...)          # in the worker process, e.g. in the jobs module
    report_errors(henchman.default_app())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import sentry_sdk
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("henchman's Sentry hook needs sentry-sdk: pip install sentry-sdk") from exc

if TYPE_CHECKING:
    from henchman.app import Henchman

__all__ = ["report_errors", "send_to_sentry"]


def send_to_sentry(exc: BaseException, context: dict[str, Any]) -> None:
    """An error handler: capture ``exc`` with the job's identity as tags and context."""
    job = context.get("job") or {}
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("henchman.queue", str(context.get("queue") or job.get("queue")))
        scope.set_tag("henchman.class", str(job.get("class")))
        scope.set_context(
            "henchman job",
            {key: job.get(key) for key in ("jid", "class", "queue", "retry_count", "bid")
             if job.get(key) is not None},
        )  # fmt: skip
        scope.fingerprint = ["{{ default }}", str(job.get("class"))]
        sentry_sdk.capture_exception(exc)


def report_errors(app: Henchman) -> None:
    """Send ``app``'s job failures to Sentry (idempotent)."""
    if send_to_sentry not in app.error_handlers:
        app.error_handlers.append(send_to_sentry)
