"""Redis URL helpers that are safe to show to humans.

Every URL henchman prints or logs goes through :func:`mask_url` first, so a password in
``REDIS_URL`` never ends up in a terminal scrollback, a CI log or a bug report.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["mask_url"]

MASK = "***"
#: Query parameters that carry a secret (``sentinel_password`` is a sentinel URL's own).
SECRET_PARAMETERS = frozenset({"password", "sentinel_password"})


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``.

    Covers the userinfo form (``redis://user:secret@host`` -> ``redis://user:***@host``,
    ``redis://:secret@host`` -> ``redis://:***@host``) and the ``?password=`` query parameter that
    redis-py also accepts (and ``?sentinel_password=`` of a sentinel URL,
    ``redis+sentinel://:secret@h1:26379,h2:26379/service``). A URL without a password is
    returned unchanged; the username is kept because it helps debugging and is not a secret.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hostinfo = netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostinfo}"
    query = parts.query
    if "password=" in query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if k in SECRET_PARAMETERS else v) for k, v in pairs], safe="*/")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
