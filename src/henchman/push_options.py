"""Push-time checks of feature options (pure): what the push planner does with a payload's
``expires_in``, ``timeout`` and ``encrypt`` before any byte is written.

The features these options belong to (:mod:`henchman.expiry`, :mod:`henchman.timeouts`,
:mod:`henchman.crypto`) sit above the client in the import layers, because they are server
middleware; the few wire-level facts the planner (:mod:`henchman.client.plan`) needs from them
live here, at the bottom, and both sides import them.
"""

from __future__ import annotations

from typing import Any

from henchman.payload import seconds_option

__all__ = ["EXPIRES_AT", "SEALED_PREFIX", "check_timeout", "is_sealed", "stamp_expiry"]

#: The payload field holding the absolute expiry time (float epoch seconds).
EXPIRES_AT = "expires_at"
#: How an encrypted argument starts (followed by the key version, ``:`` and the ciphertext).
SEALED_PREFIX = "henchman:enc:v"


def stamp_expiry(payload: dict[str, Any], *, due: float) -> None:
    """Replace an ``expires_in`` option by seconds and add ``expires_at = due + expires_in``.

    Raises ``ValueError`` (naming the option) for anything but a positive duration.
    """
    value = payload.get("expires_in")
    if value is None:
        return
    seconds = seconds_option(value, "expires_in")
    payload["expires_in"] = seconds
    payload[EXPIRES_AT] = due + seconds


def check_timeout(payload: dict[str, Any]) -> None:
    """Normalise a ``timeout`` option to seconds at push time; ``ValueError`` if it is not a
    positive duration (a job with a bad timeout is refused before it reaches Redis)."""
    value = payload.get("timeout")
    if value is not None:
        payload["timeout"] = seconds_option(value, "timeout")


def is_sealed(value: Any) -> bool:
    """Whether ``value`` is an encrypted argument."""
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)
