"""The exceptions henchman raises.

::

    HenchmanError
    ├── ConfigError            invalid configuration: names the key and its source (CLI exit 2)
    ├── RedisUnavailable       the configured Redis cannot be reached (CLI exit 2)
    ├── UnknownJob             a name that no registered job carries
    ├── PushBufferFull         reliable push buffer is full: the push was NOT accepted
    ├── JobTimeout             a job ran past its ``timeout`` (raised inside the job, SPEC §4.8)
    └── PayloadError           a payload read from Redis cannot be run (not JSON, no class, ...)

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
