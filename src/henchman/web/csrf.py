"""CSRF tokens signed with a server-side secret: pure, no I/O.

A browser session is a random id in the ``henchman_csrf`` cookie (``HttpOnly``,
``SameSite=Strict``). The token every form carries is ``HMAC-SHA256(secret, session id)``, so it
is bound both to that session and to a secret only the server knows: a page that manages to plant
a cookie of its choosing (a sibling subdomain, a page on another port of the same host, since
cookies ignore ports) still cannot compute the token that goes with it.

The secret is shared by every process serving the UI (see :mod:`henchman.web.secret`), so a form
rendered by one web process is accepted by another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["SESSION_ID_LENGTH", "CsrfSigner", "valid_session_id"]

_SESSION_BYTES = 32
SESSION_ID_LENGTH = 43  # token_urlsafe(32)
_CONTEXT = b"henchman-web-csrf\0"


def valid_session_id(value: str | None) -> bool:
    """Whether ``value`` looks like a session id this module made (43 URL-safe characters)."""
    return (
        value is not None
        and len(value) == SESSION_ID_LENGTH
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)
    )


class CsrfSigner:
    """Makes session ids and the tokens that go with them, under one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the CSRF secret must be at least 16 bytes")
        self._secret = secret

    @staticmethod
    def new_session() -> str:
        return secrets.token_urlsafe(_SESSION_BYTES)

    def token(self, session_id: str) -> str:
        """The form token for ``session_id``."""
        digest = hmac.new(self._secret, _CONTEXT + session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def valid(self, session_id: str | None, submitted: str | None) -> bool:
        """Whether ``submitted`` is the token of ``session_id`` (compared in constant time)."""
        if not valid_session_id(session_id) or submitted is None:
            return False
        assert session_id is not None
        return hmac.compare_digest(self.token(session_id).encode(), submitted.encode())
