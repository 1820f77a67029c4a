"""Configurations that would weaken a guarantee are refused at startup .

Every flow-control feature composes around the one reliable fetcher, so most combinations need
no check at all. What is left are settings that would quietly break a promise; each is refused
with one line saying why (``ConfigError``: exit code 2 from the CLI). Called when settings are
loaded and again when a launcher starts (settings may be built in code). The fetcher's own check
(it must acknowledge) is :func:`henchman.server.fetch.validate`.
"""

from __future__ import annotations

from henchman.config import Settings
from henchman.errors import ConfigError


def check_settings(settings: Settings) -> None:
    """Raise ``ConfigError`` for the first setting that would weaken a guarantee."""
    _check_capsules(settings)
    _check_heartbeat(settings)


def _check_capsules(settings: Settings) -> None:
    owner = {q.name: "default" for q in settings.queues}
    seen_names = {"default"}
    for capsule in settings.capsules:
        if capsule.name in seen_names:
            raise ConfigError(f"capsule {capsule.name!r} is defined twice")
        seen_names.add(capsule.name)
        if capsule.concurrency < 1 or (capsule.async_concurrency or 1) < 1:
            raise ConfigError(
                f"capsule {capsule.name!r} has no workers: its queues' jobs would wait forever"
            )
        for queue in capsule.queues:
            if queue.name in owner:
                raise ConfigError(
                    f"queue {queue.name!r} is served by capsules {owner[queue.name]!r} and "
                    f"{capsule.name!r}: in one process a queue belongs to one capsule (its "
                    "concurrency limit would not hold)"
                )
            owner[queue.name] = capsule.name


def _check_heartbeat(settings: Settings) -> None:
    if settings.heartbeat_interval * 2 > settings.process_ttl:
        raise ConfigError(
            f"heartbeat_interval ({settings.heartbeat_interval:g} s) must be at most half of "
            f"process_ttl ({settings.process_ttl:g} s): otherwise this process could look dead "
            "between two beats and its running jobs would be recovered and run twice"
        )
