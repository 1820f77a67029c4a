"""Redis URL helpers that are safe to show to humans.

Every URL henchman prints or logs goes through :func:`mask_url` first, so a password in
``REDIS_URL`` never ends up in a terminal scrollback, a CI log or a bug report.
:func:`check_url` finds what redis-py would only trip over when it first connects (a port that
is not a number, ``?socket_timeout=abc``, an unknown option), so configuration errors are one
line at startup instead of a traceback later; its messages never repeat the password.
"""

from __future__ import annotations

import inspect
import math
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["check_url", "mask_url", "split_netloc"]

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


def check_url(url: str) -> None:
    """Raise ``ValueError`` saying what is wrong with a ``redis://``, ``rediss://`` or
    ``unix://`` URL: its port, its database number, or a query option (unknown, or a value of the
    wrong type). The message never contains the URL's password."""
    from redis.connection import URL_QUERY_ARGUMENT_PARSERS

    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        return
    if parts.scheme in ("redis", "rediss"):
        try:
            parts.port  # noqa: B018 - urllib validates the port when it is read
        except ValueError:
            raise ValueError("the port must be a number from 0 to 65535") from None
        database = unquote(parts.path).strip("/")
        if database and not database.isdigit():
            raise ValueError(f"the database number must be an integer, got {database[:40]!r}")
    known = _url_options(parts.scheme)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in known:
            raise ValueError(f"unknown option {name[:40]!r} in the query string")
        parse: Any = URL_QUERY_ARGUMENT_PARSERS.get(name)
        if parse is None:
            continue
        try:
            parsed = parse(value)
        except (TypeError, ValueError):
            parsed = None
        bad_number = isinstance(parsed, float | int) and not (
            math.isfinite(parsed) and parsed >= 0
        )
        if parsed is None or bad_number:
            raise ValueError(f"option {name!r} has an invalid value {value[:40]!r}")


def _url_options(scheme: str) -> frozenset[str]:
    """The query options redis-py passes on for ``scheme`` without failing on connect."""
    from redis import connection as c

    classes: list[type] = [c.AbstractConnection, c.ConnectionPool, c.BlockingConnectionPool]
    classes.append(
        {"unix": c.UnixDomainSocketConnection, "rediss": c.SSLConnection}.get(scheme, c.Connection)
    )
    if scheme == "rediss":
        classes.append(c.Connection)
    names = {
        name
        for cls in classes
        for name, param in inspect.signature(cls.__init__).parameters.items()  # type: ignore[misc]
        if param.kind is param.KEYWORD_ONLY or param.kind is param.POSITIONAL_OR_KEYWORD
    }
    return frozenset(names - {"self", "connection_class"})


def split_netloc(
    netloc: str, default_port: int
) -> tuple[str | None, str | None, list[tuple[str, int]]]:
    """``user:secret@h1:p1,h2`` -> (username, password, [(host, port), ...]) for the URLs that
    name several hosts (sentinel and cluster URLs). A host without a port gets
    ``default_port``; ``[::1]:7000`` and a bare IPv6 address work. ``ValueError`` names the
    first entry that is not ``host:port`` (never the credentials)."""
    userinfo, at, hostlist = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    hosts: list[tuple[str, int]] = []
    for item in hostlist.split(","):
        host, colon, port = item.strip().rpartition(":")
        if not colon or host.endswith(":"):  # no port, or a bare IPv6 address
            host, port = item.strip(), str(default_port)
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"'{item.strip()[:60]}' is not host:port")
        hosts.append((host, int(port)))
    return username, password, hosts
