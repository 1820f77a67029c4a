"""The exceptions henchman raises.

::

    HenchmanError
    ├── ConfigError            invalid configuration: names the key and its source (CLI exit 2)
    ├── RedisUnavailable       the configured Redis cannot be reached (CLI exit 2)
    ├── UnknownJob             a name that no registered job carries
    ├── PushBufferFull         reliable push buffer is full: the push was NOT accepted
    ├── JobTimeout             a job ran past its ``timeout`` (raised inside the job)
    ├── PayloadError           a payload read from Redis cannot be run (not JSON, no class, ...)
    ├── BatchError             a batch cannot take this (bad callback, unknown or finished batch)
    ├── RequeueJob             control flow, not an error: put this job back in its queue now
    ├── RescheduleJob          control flow, not an error: run this job again at a given time
    └── OverLimit              a rate limiter refused within its ``wait_timeout``

``TypeError`` (not a HenchmanError) is raised at push time for arguments that are not JSON-native,
because that is what Python raises for a value of the wrong type.
"""

from __future__ import annotations


class HenchmanError(Exception):
    """Base class of every henchman error."""


class ConfigError(HenchmanError):
    """Invalid configuration; the message names the key and where it came from."""


class RedisUnavailable(HenchmanError):
    """Redis could not be reached at the configured address."""


class UnknownJob(HenchmanError):
    """No job is registered under the requested name."""


class PushBufferFull(HenchmanError):
    """The reliable-push buffer is full; this push was not accepted and nothing was stored."""


class JobTimeout(HenchmanError):
    """A job exceeded its per-job ``timeout``."""


class PayloadError(HenchmanError):
    """A payload from Redis cannot be run; the message says why."""


class RequeueJob(HenchmanError):
    """Raised by a job (or its middleware) to put the job back in its queue without using a
    retry and without counting a failure, e.g. an iterable job interrupted at a safe point.

    ``payload`` replaces the stored payload (``None`` keeps it); ``at_head`` puts the job at the
    head of the queue instead of the tail.
    """

    def __init__(self, payload: dict[str, object] | None = None, *, at_head: bool = False) -> None:
        super().__init__("job requeued")
        self.payload = payload
        self.at_head = at_head


class BatchError(HenchmanError):
    """A batch cannot do what was asked (bad callback, unknown/expired or finished batch);
    nothing was changed."""


class RescheduleJob(HenchmanError):
    """Raised by a middleware to acknowledge this job and schedule ``payload`` to run again at
    epoch ``at``, in one atomic step, without using a retry and without counting a failure (e.g.
    a job refused by a rate limiter, which comes back later with the same jid).
    """

    def __init__(self, payload: dict[str, object], at: float) -> None:
        super().__init__("job rescheduled")
        self.payload = payload
        self.at = at


class OverLimit(HenchmanError):
    """A rate limiter could not admit the caller within its ``wait_timeout``.

    ``limiter`` is the limiter's name. Escaping a job, it reschedules the job (see
    ``henchman.limiter``) instead of counting as a failure.
    """

    def __init__(self, limiter: str, message: str) -> None:
        super().__init__(message)
        self.limiter = limiter
