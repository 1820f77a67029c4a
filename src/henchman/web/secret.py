"""Where the Web UI's CSRF secret comes from.

Given (``create_app(secret=...)``): that value, for deployments that manage their own secrets.
Otherwise a random secret stored once in Redis (``SET NX``) and read by every process serving
the UI from that Redis: several uvicorn/gunicorn workers or pods behind one address then accept
each other's forms, and a restart keeps open pages working. Storing it next to the jobs gives
nothing away: whoever can read Redis can already change every job directly.
"""

from __future__ import annotations

import secrets

import redis

from henchman import keys

__all__ = ["given_secret", "shared_secret"]

_SECRET_BYTES = 32


def given_secret(secret: str | bytes) -> bytes:
    """A secret passed by the user, as bytes; refuses one too short to resist guessing."""
    value = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(value) < 16:
        raise ValueError("create_app(secret=...) must be at least 16 bytes long")
    return value


def shared_secret(client: redis.Redis) -> bytes:
    """The secret every web process on this Redis shares, created on first use."""
    client.set(keys.layout_of(client).WEB_SECRET, secrets.token_hex(_SECRET_BYTES), nx=True)
    value = client.get(keys.layout_of(client).WEB_SECRET)
    if not value:  # deleted between the two commands: try once more
        client.set(keys.layout_of(client).WEB_SECRET, secrets.token_hex(_SECRET_BYTES), nx=True)
        value = client.get(keys.layout_of(client).WEB_SECRET)
    if not value:
        raise redis.ConnectionError("could not read the Web UI secret from Redis")
    return value.encode() if isinstance(value, str) else bytes(value)
